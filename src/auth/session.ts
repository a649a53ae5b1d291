/** Who a verified token says the caller is. */
export interface Session {
  userId: string;
  /** `exp` in epoch milliseconds; null when the token has no `exp`. */
  expiresAt: number | null;
  /** A service token may read any room and manage any room's membership. */
  isService: boolean;
  /** What the token says of the user, for the user directory; only the claims present. */
  profile?: { username?: string; email?: string; profile_image?: string };
}

/** Why a token or a handshake was refused, with the HTTP answer (PROTOCOL §1). */
export class AuthError extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    readonly code: 'unauthorized' | 'token_expired' | 'origin_not_allowed' | 'unavailable',
    message: string,
    /** For the metrics only: a 503 for one user over MAX_CONNECTIONS_PER_USER, not for the instance. */
    readonly userLimit = false,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}
