/**
 * `npm run token -- <user_id> [--ttl 1h] [--service]` prints a JWT signed with
 * the configured secret and algorithm (and issuer and audience, when set), for trying the service by hand.
 */
import { JwtService } from '@nestjs/jwt';
import { loadEnvironment } from '../config/environment.js';

const args = process.argv.slice(2);
const userId = args.find((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--ttl');
if (!userId) {
  console.error('usage: npm run token -- <user_id> [--ttl 1h] [--service]');
  process.exit(2);
}
const ttlAt = args.indexOf('--ttl');
const ttl = ttlAt >= 0 ? args[ttlAt + 1] : '1h';
const env = loadEnvironment();
const jwt = new JwtService({ secret: env.JWT_SECRET });
const payload = args.includes('--service') ? { sub: userId, role: 'service' } : { sub: userId };
const algorithm = env.JWT_ALGORITHM as 'HS256' | 'HS384' | 'HS512';
// Claims the service checks when they are configured.
const claims = { ...(env.JWT_ISSUER ? { issuer: env.JWT_ISSUER } : {}), ...(env.JWT_AUDIENCE ? { audience: env.JWT_AUDIENCE } : {}) };
const signed = jwt.sign(payload, { algorithm, expiresIn: ttl as `${number}h`, ...claims });
const { iat, exp } = jwt.decode<{ iat: number; exp: number }>(signed);
// The service refuses a token that lives longer than JWT_MAX_TTL_S: say so here rather than print one.
if (exp - iat > env.JWT_MAX_TTL_S) {
  console.error(`--ttl ${ttl} is longer than the service accepts (JWT_MAX_TTL_S=${env.JWT_MAX_TTL_S} s)`);
  process.exit(2);
}
console.log(signed);
