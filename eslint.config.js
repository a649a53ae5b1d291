import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The floors of src/, lowest first. A folder may import its own floor's
 * neighbours named here and anything below; never a folder above it.
 * The socket edge (chat/) and health/ sit on top, then app.module,
 * app.factory and main. `npm run lint` fails on an import that points up.
 */
const FLOORS = {
  core: [],
  config: ['core'],
  logging: ['core', 'config'],
  metrics: ['core', 'config'],
  instance: ['core', 'config'],
  redis: ['core', 'config', 'metrics'],
  bus: ['core', 'config', 'metrics', 'redis'],
  auth: ['core', 'config'],
  files: ['core', 'config'],
  limits: ['core', 'config', 'metrics', 'redis'],
  presence: ['core', 'config', 'metrics', 'redis', 'bus'],
  messages: ['core', 'config', 'metrics', 'redis', 'bus', 'presence', 'files'],
  users: ['core', 'config', 'redis'],
  rooms: ['core', 'config', 'metrics', 'redis', 'limits', 'bus', 'presence', 'messages', 'users'],
  invitations: ['core', 'config', 'metrics', 'redis', 'bus', 'presence', 'messages', 'rooms'],
  health: ['core', 'config', 'instance', 'redis'],
  docs: ['core', 'config', 'metrics'],
  demo: ['core', 'config'],
};

/** Folders below the socket edge know nothing of sockets. */
const SOCKETLESS = ['core', 'config', 'logging', 'metrics', 'instance', 'redis', 'limits', 'files', 'bus', 'presence', 'messages', 'users', 'rooms', 'invitations'];

const floorRules = Object.entries(FLOORS).map(([folder, below]) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: SOCKETLESS.includes(folder)
          ? [{ name: 'ws', message: `${folder}/ knows nothing of sockets: take ids, return values; the socket edge is chat/` }]
          : [],
        patterns: [
          {
            // Any relative import leaving the folder except into a floor below (subfolders stay free);
            // unit specs may also use the shared test support.
            regex: `^\\.\\./(?!(${[...below, '\\.\\./test/support'].join('|')})/)`,
            message:
              below.length > 0
                ? `${folder}/ may import only ${below.map((f) => `${f}/`).join(', ')} (docs/ARCHITECTURE.md, "Floors")`
                : `${folder}/ imports nothing of ours (docs/ARCHITECTURE.md, "Floors")`,
          },
        ],
      },
    ],
  },
}));

/** The socket edge may import every floor, but not the application that assembles it. */
const edgeRule = {
  files: ['src/chat/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: [{ regex: '^\\.\\./(\\.\\./)?(app\\.|main\\.)', message: 'chat/ must not import the application that assembles it' }] },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'client/demo/build/', 'test/artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  ...floorRules,
  edgeRule,
  { files: ['client/demo/**/*.ts'], languageOptions: { globals: globals.browser } },
);
