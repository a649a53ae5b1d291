import { JwtService } from '@nestjs/jwt';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { startInstance, useInstances, type Instance } from './support/instances.js';
import { handshake } from './support/handshake.js';
import { TEST_SECRET, token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

/** Token lifetimes, issuers, audiences, `typ` and key rotation (PROTOCOL §1 "Tokens"). */

const PREVIOUS_SECRET = 'previous-secret-0123456789abcdef';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const nowS = () => Math.floor(Date.now() / 1000);

/** A token with exactly these claims and header fields, signed HS256 with `secret`. */
function signed(claims: Record<string, unknown>, secret = TEST_SECRET, header: Record<string, unknown> = {}): string {
  return new JwtService().sign(claims, { secret, algorithm: 'HS256', header: { alg: 'HS256', ...header } as never, noTimestamp: true });
}

/** The REST status and the handshake status for one token. */
async function answers(app: Instance, jwt: string): Promise<{ rest: number; upgrade: number }> {
  const rest = await request(app.http).get('/api/v1/chats/rooms').set('Authorization', `Bearer ${jwt}`);
  const upgrade = await handshake(`${app.ws}?token=${encodeURIComponent(jwt)}`);
  return { rest: rest.status, upgrade: upgrade.status };
}

describe('token lifetime, by default', () => {
  const app = useInstances();

  it.each([
    ['no exp', () => signed({ sub: 'alice', iat: nowS() })],
    ['no exp and no iat', () => signed({ sub: 'alice' })],
    ['exp in milliseconds', () => signed({ sub: 'alice', iat: nowS(), exp: Date.now() + 3_600_000 })],
    ['exp in milliseconds, without iat', () => signed({ sub: 'alice', exp: Date.now() + 3_600_000 })],
    ['a lifetime of 25 h (more than JWT_MAX_TTL_S)', () => signed({ sub: 'alice', iat: nowS(), exp: nowS() + 25 * 3600 })],
    ['exp 25 h ahead without iat', () => signed({ sub: 'alice', exp: nowS() + 25 * 3600 })],
    [
      'exp ten years ahead and iat (in the future) just before it',
      // `signed` drops iat (noTimestamp); jsonwebtoken keeps a given iat otherwise.
      () => new JwtService().sign({ sub: 'alice', iat: nowS() + 10 * 365 * 86400 - 10, exp: nowS() + 10 * 365 * 86400 }, { secret: TEST_SECRET, algorithm: 'HS256' }),
    ],
    ['typ "refresh"', () => signed({ sub: 'alice', exp: nowS() + 600 }, TEST_SECRET, { typ: 'refresh' })],
    ['a critical extension (crit)', () => signed({ sub: 'alice', exp: nowS() + 600 }, TEST_SECRET, { crit: ['x-ext'], 'x-ext': 1 })],
    ['a lone surrogate in sub', () => signed({ sub: 'al\ud800ice', exp: nowS() + 600 })],
  ])('refuses a token with %s: 401 on REST and on the upgrade', async (_, make) => {
    expect(await answers(app.first, make())).toEqual({ rest: 401, upgrade: 401 });
  });

  it.each([
    ['exp 1 h ahead and iat', () => signed({ sub: 'alice', iat: nowS(), exp: nowS() + 3600 })],
    ['exp 24 h ahead without iat', () => signed({ sub: 'alice', exp: nowS() + 24 * 3600 - 5 })],
    [
      'a lifetime of 24 h from an iat 5 s ahead (the issuer’s clock, within JWT_CLOCK_SKEW_S)',
      () => new JwtService().sign({ sub: 'alice', iat: nowS() + 5, exp: nowS() + 5 + 24 * 3600 }, { secret: TEST_SECRET, algorithm: 'HS256' }),
    ],
    ['typ "JWT"', () => signed({ sub: 'alice', exp: nowS() + 600 }, TEST_SECRET, { typ: 'JWT' })],
    ['any aud or iss while none is configured', () => signed({ sub: 'alice', exp: nowS() + 600, aud: 'x', iss: 'y' })],
  ])('accepts a token with %s', async (_, make) => {
    expect(await answers(app.first, make())).toEqual({ rest: 200, upgrade: 101 });
  });

  it('refuses refresh_token with a token without exp or with exp in milliseconds, and keeps the old expiry', async () => {
    const client = await TestClient.connect(app.first.ws, token('alice'));
    const bad = [signed({ sub: 'alice', iat: nowS() }), signed({ sub: 'alice', exp: Date.now() + 3_600_000 })];
    for (const [i, jwt] of bad.entries()) {
      client.send({ type: 'refresh_token', token: jwt, ref: `r${i}` });
      expect(await client.next('error')).toMatchObject({ code: 'token_invalid', ref: `r${i}` });
    }
    expect(client.take('token_refreshed')).toEqual([]);
    await client.close();
  });
});

describe('JWT_REQUIRE_EXP=false', () => {
  const app = useInstances({ env: { JWT_REQUIRE_EXP: 'false' } });

  it('accepts a token without exp, and still refuses exp in milliseconds', async () => {
    expect(await answers(app.first, signed({ sub: 'alice', iat: nowS() }))).toEqual({ rest: 200, upgrade: 101 });
    expect(await answers(app.first, signed({ sub: 'alice', exp: Date.now() + 3_600_000 }))).toEqual({ rest: 401, upgrade: 401 });
  });
});

describe('JWT_ISSUER and JWT_AUDIENCE', () => {
  const app = useInstances({ env: { JWT_ISSUER: 'https://backend.example', JWT_AUDIENCE: 'chat' } });
  const exp = () => nowS() + 600;

  it('accepts only tokens of that issuer for that audience', async () => {
    const good = signed({ sub: 'alice', exp: exp(), iss: 'https://backend.example', aud: ['web', 'chat'] });
    expect(await answers(app.first, good)).toEqual({ rest: 200, upgrade: 101 });
    for (const claims of [
      { iss: 'https://backend.example' },
      { aud: 'chat' },
      { iss: 'https://evil.example', aud: 'chat' },
      { iss: 'https://backend.example', aud: 'admin' },
    ]) {
      expect(await answers(app.first, signed({ sub: 'alice', exp: exp(), ...claims }))).toEqual({ rest: 401, upgrade: 401 });
    }
  });

  it('are in the tokens `npm run token` prints, so the service takes them', async () => {
    const env = { PATH: process.env.PATH, NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, JWT_ISSUER: 'https://backend.example', JWT_AUDIENCE: 'chat' };
    const printed = execFileSync(join(ROOT, 'node_modules/.bin/tsx'), ['src/auth/token.cli.ts', 'alice'], { cwd: ROOT, env, encoding: 'utf8' }).trim();
    expect(await answers(app.first, printed)).toEqual({ rest: 200, upgrade: 101 });
  });
});

describe('key rotation', () => {
  describe('while the previous secret is still accepted', () => {
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const app = useInstances({ env: { JWT_PREVIOUS_SECRET: PREVIOUS_SECRET, JWT_PREVIOUS_SECRET_UNTIL: until } });

    it('accepts tokens of the current and of the previous secret, and no other', async () => {
      expect(await answers(app.first, token('alice'))).toEqual({ rest: 200, upgrade: 101 });
      expect(await answers(app.first, token('alice', { secret: PREVIOUS_SECRET }))).toEqual({ rest: 200, upgrade: 101 });
      expect(await answers(app.first, token('alice', { secret: 'a-third-secret-0123456789abcdef' }))).toEqual({
        rest: 401,
        upgrade: 401,
      });
    });

    it('still refuses an expired token of the previous secret with 403 token_expired on the upgrade', async () => {
      const result = await handshake(`${app.first.ws}?token=${token('alice', { secret: PREVIOUS_SECRET, expiresInS: -3600 })}`);
      expect(result).toMatchObject({ status: 403, body: { error: 'token_expired' } });
    });
  });

  describe('after JWT_PREVIOUS_SECRET_UNTIL', () => {
    const app = useInstances({ env: { JWT_PREVIOUS_SECRET: PREVIOUS_SECRET, JWT_PREVIOUS_SECRET_UNTIL: '2020-01-01T00:00:00Z' } });

    it('refuses tokens of the previous secret', async () => {
      expect(await answers(app.first, token('alice', { secret: PREVIOUS_SECRET }))).toEqual({ rest: 401, upgrade: 401 });
      expect(await answers(app.first, token('alice'))).toEqual({ rest: 200, upgrade: 101 });
    });
  });

  it('refuses a previous secret without an end, at start-up', async () => {
    await expect(startInstance({ JWT_PREVIOUS_SECRET: PREVIOUS_SECRET })).rejects.toThrow(/JWT_PREVIOUS_SECRET_UNTIL/);
  });
});
