import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The demo page's files, bundled from `client/demo/` by `npm run build:demo`
 * (run by `npm run build` and before `npm start`). The same relative path
 * works from `src/demo/` (tests) and `dist/demo/` (the built service).
 */
export const DEMO_BUILD_DIR = join(fileURLToPath(new URL('../../', import.meta.url)), 'client', 'demo', 'build');

export const DEMO_FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'styles.css': 'text/css; charset=utf-8',
} as const;

export type DemoFile = keyof typeof DEMO_FILES;

/** A built file, or undefined when the demo has not been built. */
export async function readDemoFile(name: DemoFile): Promise<Buffer | undefined> {
  try {
    return await readFile(join(DEMO_BUILD_DIR, name));
  } catch {
    return undefined;
  }
}
