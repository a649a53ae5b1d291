import { parseEnvironment, type Environment } from '../../src/config/environment.js';
import { toSettings, type Settings } from '../../src/config/settings.js';
import { TEST_SECRET } from './tokens.js';

/** The typed settings of a test instance with `env` set, for parts built without an app. */
export function testSettings(env: Environment = {}): Settings {
  return toSettings(parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, ...env }));
}
