/**
 * The part of the WebSocket API the client uses: the browser's `WebSocket`
 * and the `ws` package both provide it, so no DOM typings are needed here.
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: { message?: string; error?: unknown }) => void) | null;
}

export type SocketFactory = new (url: string, protocols?: string | string[]) => SocketLike;

export const OPEN = 1;
