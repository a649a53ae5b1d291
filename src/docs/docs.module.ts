import { Module } from '@nestjs/common';
import { LandingController } from './landing.controller.js';

/** The landing page and the AsyncAPI document; the OpenAPI UI is mounted by `setupApiDocs` (see app.factory). */
@Module({ controllers: [LandingController] })
export class DocsModule {}
