import WebSocket, { type ClientOptions } from 'ws';

/** How long a test waits for an expected frame by default: long enough for a loaded machine, free when the frame comes. */
export const ANSWER_TIMEOUT_MS = 10_000;

/** Any frame the server writes, loosely typed for assertions. */
export type Frame = { type: string; [key: string]: unknown };

/**
 * A real `ws` client that records every frame it receives, so tests wait for
 * the frame they expect (`next`) or for a bounded silence (`nothing`), never sleep.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString()) as Frame);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      }),
    );
  }

  /** Connects with `?token=` (unless `token` is undefined) and waits for `connected`. */
  static async connect(url: string, token?: string, options: ClientOptions & { protocols?: string[] } = {}): Promise<TestClient> {
    const client = TestClient.open(url, token, options);
    await new Promise<void>((resolve, reject) => {
      client.socket.once('open', () => resolve());
      client.socket.once('error', reject);
      client.socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    await client.next('connected');
    return client;
  }

  /** Opens without waiting for anything; for tests of refused handshakes. */
  static open(url: string, token?: string, options: ClientOptions & { protocols?: string[] } = {}): TestClient {
    const target = token === undefined ? url : `${url}?token=${encodeURIComponent(token)}`;
    const { protocols, ...rest } = options;
    return new TestClient(new WebSocket(target, protocols, rest));
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /**
   * The next not yet consumed frame of `type` (earlier frames of other types stay available).
   * The wait is generous: it costs nothing when the frame comes, and a loaded CI machine can be slow.
   */
  async next(type: string, timeoutMs = ANSWER_TIMEOUT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((frame) => frame.type === type && !consumedSet.has(frame));
      if (index >= 0) {
        const frame = this.frames[index];
        consumedSet.add(frame);
        return frame;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) {
        const seen = this.frames.filter((f) => !consumedSet.has(f)).map((f) => f.type);
        throw new Error(`No "${type}" frame within ${timeoutMs} ms; unconsumed: [${seen.join(', ')}]`);
      }
      await this.wait(left);
    }
  }

  /** Resolves if no unconsumed frame of `type` (any type if omitted) arrives within `ms`. */
  async nothing(ms: number, type?: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const unexpected = this.frames.filter((f) => !consumedSet.has(f) && (type === undefined || f.type === type));
    if (unexpected.length > 0) throw new Error(`Expected no ${type ?? 'frame'}, got ${JSON.stringify(unexpected)}`);
  }

  /**
   * Consumes `frame` and the unconsumed frames of its type before it. Another
   * caller may have consumed it already (concurrent asks whose answers
   * arrived together): then nothing is left to do.
   */
  consumeThrough(frame: Frame): void {
    for (const earlier of this.frames) {
      if (earlier.type === frame.type) consumedSet.add(earlier);
      if (earlier === frame) return;
    }
  }

  /** Every unconsumed frame of `type`, consumed now. */
  take(type: string): Frame[] {
    const found = this.frames.filter((f) => !consumedSet.has(f) && f.type === type);
    for (const frame of found) consumedSet.add(frame);
    return found;
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    return this.closed;
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

const consumedSet = new WeakSet<Frame>();
