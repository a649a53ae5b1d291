import { DynamicModule, Module } from '@nestjs/common';
import { ChatModule } from './chat/chat.module.js';
import { AppConfigModule } from './config/config.module.js';
import type { Environment } from './config/environment.js';
import { DocsModule } from './docs/docs.module.js';
import { DemoModule } from './demo/demo.module.js';
import { HealthModule } from './health/health.module.js';
import { InstanceModule } from './instance/instance.module.js';
import { LimitsModule } from './limits/limits.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RedisModule } from './redis/redis.module.js';

@Module({})
export class AppModule {
  /** `overrides` take precedence over the environment (tests run several instances this way). */
  static async forRoot(overrides: Environment = {}): Promise<DynamicModule> {
    return {
      module: AppModule,
      imports: [
        await AppConfigModule.forRoot(overrides),
        LoggingModule,
        MetricsModule,
        InstanceModule,
        RedisModule,
        LimitsModule,
        ChatModule,
        HealthModule,
        DocsModule,
        DemoModule,
      ],
    };
  }
}
