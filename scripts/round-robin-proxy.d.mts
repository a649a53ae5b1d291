/** One place the proxy forwards to. */
export interface Backend {
  host: string;
  port: number;
}

/** A listening proxy. */
export interface RoundRobinProxy {
  port: number;
  /** Stops accepting; resolves once open requests and WebSocket tunnels have ended. */
  close(): Promise<void>;
  /** Cuts open requests and tunnels now; resolves once the proxy is closed. */
  destroy(): Promise<void>;
}

/** Starts the proxy on `host:port` (default 127.0.0.1, port 0 = a free one). */
export function startRoundRobinProxy(options: { backends: Backend[]; port?: number; host?: string }): Promise<RoundRobinProxy>;
