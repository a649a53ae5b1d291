import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Environment, parseEnvironment } from './environment.js';
import { SETTINGS, Settings, toSettings } from './settings.js';

/**
 * Reads the environment (and `.env`) once, validates it, and provides the
 * typed `Settings` under the `SETTINGS` token to every module.
 * `overrides` win over the environment; tests use them to run several
 * differently configured instances in one process.
 */
@Module({})
export class AppConfigModule {
  static async forRoot(overrides: Environment = {}): Promise<DynamicModule> {
    return {
      module: AppConfigModule,
      global: true,
      imports: [
        await ConfigModule.forRoot({
          ignoreEnvFile: overrides.NODE_ENV === 'test',
          validate: (raw) => ({ settings: toSettings(parseEnvironment({ ...raw, ...overrides })) }),
        }),
      ],
      providers: [
        {
          provide: SETTINGS,
          inject: [ConfigService],
          useFactory: (config: ConfigService): Settings => config.getOrThrow<Settings>('settings'),
        },
      ],
      exports: [SETTINGS],
    };
  }
}
