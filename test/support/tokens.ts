import { JwtService } from '@nestjs/jwt';

export const TEST_SECRET = 'test-secret-0123456789abcdef';
const jwt = new JwtService({ secret: TEST_SECRET });

/** A token as the main backend issues it. `expiresInS` may be negative (already expired). */
export function token(sub: string, options: { expiresInS?: number; secret?: string; role?: string } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { sub, exp: now + (options.expiresInS ?? 3600) };
  if (options.role) payload.role = options.role;
  return jwt.sign(payload, { secret: options.secret ?? TEST_SECRET, algorithm: 'HS256' });
}

/** A token with arbitrary claims (no `sub`, no `exp`, …). */
export function tokenWithClaims(claims: Record<string, unknown>): string {
  return jwt.sign(claims, { algorithm: 'HS256' });
}

/** An unsigned `alg: none` token, which must always be refused. */
export function unsignedToken(sub: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
}
