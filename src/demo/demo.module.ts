import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { DemoController } from './demo.controller.js';

/** The browser demo at /demo (see `DEMO_ENABLED`). */
@Module({
  imports: [JwtModule.register({})],
  controllers: [DemoController],
})
export class DemoModule {}
