import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FileStore } from './file-store.js';

/** Files in a directory (`UPLOAD_DIR`); with several instances, a volume they all mount. */
export class LocalFileStore implements FileStore {
  constructor(private readonly dir: string) {}

  /** Where uploads are written while they stream in: inside the directory, so taking one in is a rename. */
  get incoming(): string {
    return join(this.dir, '.incoming');
  }

  async put(path: string, localFile: string): Promise<void> {
    const target = join(this.dir, path);
    await mkdir(dirname(target), { recursive: true });
    await rename(localFile, target);
  }

  async open(path: string): Promise<{ stream: Readable; size: number } | undefined> {
    const file = join(this.dir, path);
    try {
      const { size } = await stat(file);
      return { stream: createReadStream(file), size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  head(path: string, bytes: number): Promise<Uint8Array | undefined> {
    return readHead(join(this.dir, path), bytes);
  }
}

/** The first bytes of a local file (at most `bytes`), or undefined when there is no such file. */
export async function readHead(file: string, bytes: number): Promise<Uint8Array | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
