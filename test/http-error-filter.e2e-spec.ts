import { Controller, Get, Module, Res, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Response } from 'express';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { HttpErrorFilter } from '../src/chat/http-error.filter.js';

/** Handlers that fail where a file download can: before its body, and once the body has begun. */
@Controller()
class FailingController {
  @Get('fails-before-body')
  async beforeBody(@Res() response: Response): Promise<void> {
    response.status(200);
    response.setHeader('Content-Type', 'application/pdf');
    response.setHeader('Content-Disposition', 'attachment; filename="a.pdf"');
    response.setHeader('Cache-Control', 'private, max-age=900');
    await Promise.resolve();
    throw new Error('the store failed to open the file');
  }

  @Get('fails-mid-body')
  async midBody(@Res() response: Response): Promise<void> {
    response.status(200);
    response.setHeader('Content-Type', 'application/pdf');
    response.setHeader('Content-Length', '1000');
    await new Promise<void>((resolve) => response.write('%PDF-1.4\n', () => resolve()));
    throw new Error('the store failed mid-file');
  }
}

@Module({ controllers: [FailingController] })
class FailingModule {}

describe('HttpErrorFilter on a real HTTP server: a file answer that fails', () => {
  let app: INestApplication;
  let url: string;
  /** What the application logged at error level. */
  const logged: unknown[] = [];
  const recorder: LoggerService = { log() {}, warn() {}, error: (message: unknown) => void logged.push(message) };
  beforeAll(async () => {
    app = await NestFactory.create(FailingModule, { logger: recorder });
    app.useGlobalFilters(new HttpErrorFilter());
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());
  beforeEach(() => {
    logged.length = 0;
  });

  it('before its body: answers 500 as JSON, without the headers the file answer had set, and logs the failure', async () => {
    const response = await request(url).get('/fails-before-body').expect(500);
    expect(response.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['content-disposition']).toBeUndefined();
    expect(response.headers['cache-control']).toBeUndefined();
    expect(logged).toEqual([expect.objectContaining({ message: 'the store failed to open the file' })]);
  });

  it('once its body has begun: cuts the answer short (the client sees it incomplete), logs it, and serves the next request', async () => {
    const outcome = await new Promise<{ status?: number; body: string; aborted: boolean }>((resolve) => {
      get(`${url}/fails-mid-body`, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('error', () => undefined);
        response.on('close', () => resolve({ status: response.statusCode, body, aborted: !response.complete }));
      }).on('error', () => resolve({ body: '', aborted: true }));
    });
    expect(outcome).toEqual({ status: 200, body: '%PDF-1.4\n', aborted: true });
    expect(logged).toEqual([expect.objectContaining({ message: 'the store failed mid-file' })]);
    await request(url).get('/fails-before-body').expect(500);
  });
});
