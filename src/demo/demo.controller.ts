import { ApiExcludeController } from '@nestjs/swagger';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { Response } from 'express';
import { API_PREFIX, SETTINGS, Settings, WS_PATH } from '../config/settings.js';
import { DEMO_FILES, readDemoFile, type DemoFile } from './demo-assets.js';

const USER_ID = /^[A-Za-z0-9._@-]{1,64}$/;
const TOKEN_TTL_S = 3600;

/**
 * The browser demo (`DEMO_ENABLED`): the page and its bundle, and in
 * development only, sign-in tokens for any user name. Everything answers 404
 * when the demo is off, and the token route whenever NODE_ENV is not development.
 */
/** The demo is a page, not part of the REST API: kept out of the OpenAPI document. */
@ApiExcludeController()
@Controller('demo')
export class DemoController {
  constructor(
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly jwt: JwtService,
  ) {}

  @Get()
  page(@Res() res: Response): Promise<void> {
    return this.file('index.html', res);
  }

  @Get('app.js')
  script(@Res() res: Response): Promise<void> {
    return this.file('app.js', res);
  }

  @Get('styles.css')
  styles(@Res() res: Response): Promise<void> {
    return this.file('styles.css', res);
  }

  /** What the page needs to know about this service. */
  @Get('config.json')
  config(): { ws_path: string; api_path: string; mint_tokens: boolean } {
    this.assertEnabled();
    return { ws_path: WS_PATH, api_path: `/${API_PREFIX}`, mint_tokens: this.settings.demo.mintTokens };
  }

  /** A token for `user_id`, signed with the configured secret: development only. */
  @Post('token')
  @HttpCode(201)
  token(@Body() body: { user_id?: unknown }): { token: string; user_id: string; expires_at: string } {
    this.assertEnabled();
    if (!this.settings.demo.mintTokens) throw new NotFoundException('Sign-in tokens are minted only when NODE_ENV=development');
    const userId = body?.user_id;
    if (typeof userId !== 'string' || !USER_ID.test(userId)) {
      throw new BadRequestException('user_id must be 1 to 64 letters, digits, or . _ @ -');
    }
    const { secret, algorithm } = this.settings.jwt;
    const token = this.jwt.sign({ sub: userId }, { secret, algorithm, expiresIn: TOKEN_TTL_S });
    return { token, user_id: userId, expires_at: new Date(Date.now() + TOKEN_TTL_S * 1000).toISOString() };
  }

  private assertEnabled(): void {
    if (!this.settings.demo.enabled) throw new NotFoundException('The demo is off (DEMO_ENABLED)');
  }

  private async file(name: DemoFile, res: Response): Promise<void> {
    this.assertEnabled();
    const content = await readDemoFile(name);
    if (!content) throw new ServiceUnavailableException('The demo is not built: run `npm run build:demo`');
    res.setHeader('Content-Type', DEMO_FILES[name]);
    res.setHeader('Cache-Control', 'no-cache');
    res.send(content);
  }
}
