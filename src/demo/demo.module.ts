import { Inject, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { SETTINGS, Settings } from '../config/settings.js';
import { readDemoFile } from './demo-assets.js';
import { DemoController } from './demo.controller.js';

/** The browser demo at /demo (see `DEMO_ENABLED`). */
@Module({
  imports: [JwtModule.register({})],
  controllers: [DemoController],
})
export class DemoModule implements OnApplicationBootstrap {
  constructor(@Inject(SETTINGS) private readonly settings: Settings) {}

  async onApplicationBootstrap(): Promise<void> {
    const { enabled, mintTokens } = this.settings.demo;
    if (!enabled) return;
    const log = new Logger('Demo');
    if (!(await readDemoFile('app.js'))) return log.warn('The demo page is not built: run `npm run build:demo`');
    log.log(`The demo page is at /demo${mintTokens ? ' (sign in with any name: development tokens)' : ' (sign in with a token)'}`);
  }
}
