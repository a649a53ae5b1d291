import { Global, Module } from '@nestjs/common';
import { InstanceState } from './instance-state.js';

/** This instance's own state (draining, open connections), for every module. */
@Global()
@Module({
  providers: [InstanceState],
  exports: [InstanceState],
})
export class InstanceModule {}
