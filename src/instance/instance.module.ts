import { Global, Module } from '@nestjs/common';
import { HttpShutdown } from './http-shutdown.js';
import { InstanceState } from './instance-state.js';

/** This instance's own state (draining, open connections), for every module, and the close of its HTTP server. */
@Global()
@Module({
  providers: [InstanceState, HttpShutdown],
  exports: [InstanceState],
})
export class InstanceModule {}
