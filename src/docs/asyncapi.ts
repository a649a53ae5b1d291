import { readFile } from 'node:fs/promises';

/** `docs/asyncapi.yaml` at the repository (or image) root: the same path from `src/docs/` and `dist/docs/`. */
export const ASYNCAPI_FILE = new URL('../../docs/asyncapi.yaml', import.meta.url);

let cached: Promise<string> | undefined;

/** The AsyncAPI document of the WebSocket protocol, read once. */
export function readAsyncApi(): Promise<string> {
  cached ??= readFile(ASYNCAPI_FILE, 'utf8');
  return cached;
}
