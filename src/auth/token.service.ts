import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { IncomingMessage } from 'node:http';
import { SETTINGS, Settings } from '../config/settings.js';
import { AuthError, Session } from './session.js';

export const ACCESS_TOKEN_PROTOCOL = 'access_token';
/**
 * Bounds on what a client hands us before it is verified; far above any
 * real token, so they are limits of input rather than settings.
 */
const MAX_TOKEN_LENGTH = 8192;
const MAX_SUB_LENGTH = 256;

/** Finds and verifies the main backend's JWTs. */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  /**
   * The token of a WebSocket upgrade: `?token=`, then `Authorization: Bearer`,
   * then the `access_token, <jwt>` subprotocol pair; the first present wins.
   */
  fromUpgrade(req: IncomingMessage): string | undefined {
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
    if (query) return query;
    const bearer = bearerToken(req.headers.authorization);
    if (bearer) return bearer;
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const at = offered.indexOf(ACCESS_TOKEN_PROTOCOL);
    return at >= 0 && offered[at + 1] ? offered[at + 1] : undefined;
  }

  /** Verifies signature, algorithm, expiry (with the configured skew) and `sub`. */
  verify(token: string | undefined): Session {
    if (!token) throw new AuthError(401, 'unauthorized', 'A token is required');
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthError(401, 'unauthorized', 'The token is malformed');
    let claims: Record<string, unknown>;
    try {
      claims = this.jwt.verify<Record<string, unknown>>(token, {
        secret: this.settings.jwt.secret,
        algorithms: [this.settings.jwt.algorithm],
        clockTolerance: this.settings.jwt.clockSkewS,
      });
    } catch (error) {
      if (error instanceof Error && error.name === 'TokenExpiredError') {
        throw new AuthError(403, 'token_expired', 'The token has expired');
      }
      throw new AuthError(401, 'unauthorized', 'The token is invalid');
    }
    const { sub, exp, role } = claims;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_LENGTH) {
      throw new AuthError(401, 'unauthorized', 'The token has no usable sub');
    }
    return {
      userId: sub,
      expiresAt: typeof exp === 'number' ? exp * 1000 : null,
      isService: role === 'service',
    };
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

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
