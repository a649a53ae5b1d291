import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Memory tests compare the heap before and after; only a collection makes that comparable.
setFlagsFromString('--expose-gc');

/** Runs a full garbage collection now. */
export const gc = runInNewContext('gc') as () => void;

/** The heap in use after two collections (the second frees what the first's finalizers released). */
export function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
