import { Injectable } from '@nestjs/common';

/**
 * What this instance reports about itself to a load balancer: whether it is
 * draining and how many sockets it holds. The socket edge writes it, the
 * health endpoints read it, and neither needs the other.
 */
@Injectable()
export class InstanceState {
  private draining = false;
  /** Open WebSocket connections on this instance. */
  connections = 0;

  get isDraining(): boolean {
    return this.draining;
  }

  /** From now on the instance refuses new connections and reports itself not ready. */
  drain(): void {
    this.draining = true;
  }
}
