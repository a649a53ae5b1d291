import { Global, Module } from '@nestjs/common';
import { ConnectionSlots } from './connection-slots.js';
import { RateCounter } from './rate-counter.js';

/** Limits that a user could multiply by spreading over instances, counted in Redis when it is configured. */
@Global()
@Module({
  providers: [RateCounter, ConnectionSlots],
  exports: [RateCounter, ConnectionSlots],
})
export class LimitsModule {}
