import type { Readable } from 'node:stream';

export const FILE_STORE = Symbol('FILE_STORE');

/**
 * Where uploaded files live, by path (`rooms/<room id>/<file id>.<ext>`,
 * made by the server, never by a client). Every instance must reach the
 * same files: a directory on a shared volume (`LocalFileStore`), or an
 * S3-compatible bucket (an implementation of this interface; see the README).
 */
export interface FileStore {
  /** Takes a finished local file (which it may move) into the store at `path`. */
  put(path: string, localFile: string): Promise<void>;
  /** The file's bytes and size, or undefined when there is no such file. */
  open(path: string): Promise<{ stream: Readable; size: number } | undefined>;
  /** The first bytes of the file (at most `bytes`), to detect its type; undefined when there is none. */
  head(path: string, bytes: number): Promise<Uint8Array | undefined>;
}
