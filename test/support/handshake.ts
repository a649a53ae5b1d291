import { randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';

export interface HandshakeResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body of a refusal (the raw text if it is not JSON); undefined after a 101. */
  body: unknown;
}

/**
 * Sends a raw WebSocket upgrade to `url` (ws:// or http://) with `headers`.
 * A refusal resolves only once its body is read and the server has closed the
 * connection, so a half-open socket fails within `timeoutMs` instead of passing.
 */
export function handshake(url: string, headers: Record<string, string> = {}, timeoutMs = 3000): Promise<HandshakeResult> {
  const target = new URL(url.replace(/^ws/, 'http'));
  return new Promise((resolve, reject) => {
    const req = request(target, {
      agent: false,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`No complete, closed HTTP answer from ${target.pathname} within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('upgrade', (res, socket) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: undefined });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const finish = () => {
          clearTimeout(timer);
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON: the assertion on the body will show the raw text.
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        };
        if (res.socket.destroyed) finish();
        else res.socket.once('close', finish);
      });
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end();
  });
}
