import { Global, Module } from '@nestjs/common';
import { SETTINGS, type Settings } from '../config/settings.js';
import { AppLogger } from './app-logger.js';

/** The application's `AppLogger`, built from `LOG_FORMAT` and `LOG_LEVEL`. */
@Global()
@Module({
  providers: [{ provide: AppLogger, inject: [SETTINGS], useFactory: (settings: Settings) => new AppLogger(settings.logging) }],
  exports: [AppLogger],
})
export class LoggingModule {}
