import type { Server } from 'node:http';

/**
 * Stops `server` taking requests, gives those under way up to `graceMs`,
 * then cuts every connection still open. Node's own `close()` waits for a
 * connection whose request has begun (a half-sent header or body) until the
 * request timeouts, up to minutes: longer than an orchestrator's grace.
 */
export async function closeHttpServer(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([closed, grace]);
  server.closeAllConnections();
}
