import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createSecretKey } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SETTINGS, Settings } from '../config/settings.js';
import { isUserId } from '../core/ids.js';
import { isWellFormed } from '../core/text.js';
import { AuthError, Session } from './session.js';

export const ACCESS_TOKEN_PROTOCOL = 'access_token';
/**
 * Bounds on what a client hands us before it is verified; far above any
 * real token, so they are limits of input rather than settings.
 */
const MAX_TOKEN_LENGTH = 8192;

/**
 * Finds and verifies the main backend's JWTs. The keys are built once
 * (`createSecretKey`): with a string secret, jsonwebtoken tries to parse it
 * as a public key on every call, which costs more than the HMAC itself.
 */
@Injectable()
export class TokenService {
  private readonly current: JwtService;
  private readonly previous: { jwt: JwtService; until: number } | undefined;

  constructor(@Inject(SETTINGS) private readonly settings: Settings) {
    this.current = new JwtService({ secret: createSecretKey(Buffer.from(settings.jwt.secret)) });
    const previous = settings.jwt.previous;
    if (previous) {
      this.previous = { jwt: new JwtService({ secret: createSecretKey(Buffer.from(previous.secret)) }), until: previous.until };
    }
  }

  /**
   * The token of a WebSocket upgrade: `?token=`, then `Authorization: Bearer`,
   * then the `access_token, <jwt>` subprotocol pair; the first present wins.
   * Never throws: a request line that is not a URL simply has no query token.
   */
  fromUpgrade(req: IncomingMessage): string | undefined {
    const url = req.url ?? '';
    const at = url.indexOf('?');
    const query = at >= 0 ? new URLSearchParams(url.slice(at + 1)).get('token') : null;
    if (query) return query;
    const bearer = bearerToken(req.headers.authorization);
    if (bearer) return bearer;
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const index = offered.indexOf(ACCESS_TOKEN_PROTOCOL);
    return index >= 0 && offered[index + 1] ? offered[index + 1] : undefined;
  }

  /**
   * REST's token, `Authorization: Bearer <jwt>`, verified. A header that is
   * there but not of that form is said so, rather than taken for no token.
   */
  verifyBearer(header: string | undefined): Session {
    const token = bearerToken(header);
    if (header !== undefined && token === undefined) throw new AuthError(401, 'unauthorized', 'The Authorization header must be "Bearer <token>"');
    return this.verify(token);
  }

  /**
   * Verifies signature (the current secret, or the previous one until its
   * end), algorithm, expiry (with the configured skew), lifetime, issuer,
   * audience, `typ` and `sub`.
   */
  verify(token: string | undefined): Session {
    if (!token) throw new AuthError(401, 'unauthorized', 'A token is required');
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthError(401, 'unauthorized', 'The token is malformed');
    const { header, payload: claims } = this.checkSignature(token);
    // No JWS extension is understood here, and RFC 7515 §4.1.11 refuses a token that marks one critical.
    if (header.crit !== undefined) throw new AuthError(401, 'unauthorized', 'The token relies on extensions this service does not know');
    if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) {
      throw new AuthError(401, 'unauthorized', 'The token is not an access token');
    }
    const { sub, exp, iat, role } = claims;
    if (!isUserId(sub)) {
      throw new AuthError(401, 'unauthorized', 'The token has no usable sub');
    }
    const { requireExp, maxTtlS } = this.settings.jwt;
    if (exp === undefined && requireExp) throw new AuthError(401, 'unauthorized', 'The token has no exp');
    if (typeof exp === 'number') {
      // Counted from the issue time, but never from further ahead than the clock skew allowed: a later `iat` would stretch the lifetime.
      const now = Date.now() / 1000;
      const from = typeof iat === 'number' ? Math.min(iat, now + this.settings.jwt.clockSkewS) : now;
      if (exp - from > maxTtlS) throw new AuthError(401, 'unauthorized', 'The token lives longer than allowed');
    }
    const profile = profileClaims(claims);
    return {
      userId: sub,
      expiresAt: typeof exp === 'number' ? exp * 1000 : null,
      isService: role === 'service',
      ...(profile ? { profile } : {}),
    };
  }

  private checkSignature(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
    const { algorithm, clockSkewS, issuer, audience } = this.settings.jwt;
    const options = {
      algorithms: [algorithm],
      clockTolerance: clockSkewS,
      complete: true,
      ...(issuer === undefined ? {} : { issuer }),
      ...(audience === undefined ? {} : { audience }),
    };
    const attempt = (jwt: JwtService) =>
      jwt.verify<{ header: Record<string, unknown>; payload: Record<string, unknown> }>(token, options);
    try {
      try {
        return attempt(this.current);
      } catch (error) {
        // Only a signature that the current secret refuses is tried with the previous one.
        const previous = this.previous;
        if (!previous || !(Date.now() < previous.until) || !(error instanceof Error) || error.message !== 'invalid signature') {
          throw error;
        }
        return attempt(previous.jwt);
      }
    } catch (error) {
      if (error instanceof Error && error.name === 'TokenExpiredError') {
        throw new AuthError(403, 'token_expired', 'The token has expired');
      }
      throw new AuthError(401, 'unauthorized', 'The token is invalid');
    }
  }

  /** When a connection must close: `exp` plus the configured skew. */
  deadline(session: Session): number | null {
    return session.expiresAt === null ? null : session.expiresAt + this.settings.jwt.clockSkewS * 1000;
  }

  /** True for a request without Origin (a server, a CLI) or with an allowed one. */
  originAllowed(origin: string | undefined): boolean {
    const allowed = this.settings.http.corsOrigins;
    return origin === undefined || allowed === '*' || allowed.includes(origin);
  }
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Longest profile claim kept (a URL of a picture may be long). */
const MAX_PROFILE_CLAIM_LENGTH = 2048;

/** `username` (or `preferred_username`), `email`, `profile_image` (or `picture`), when they are usable strings. */
function profileClaims(claims: Record<string, unknown>): Session['profile'] {
  const text = (...values: unknown[]) =>
    values.find((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_PROFILE_CLAIM_LENGTH && isWellFormed(v));
  const profile = {
    username: text(claims.username, claims.preferred_username),
    email: text(claims.email),
    profile_image: text(claims.profile_image, claims.picture),
  };
  const present = Object.fromEntries(Object.entries(profile).filter(([, v]) => v !== undefined));
  return Object.keys(present).length > 0 ? present : undefined;
}
