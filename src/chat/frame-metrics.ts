import { Injectable } from '@nestjs/common';
import { isoMillis } from '../core/iso-time.js';
import type { CloseReason, UpgradeResult } from '../metrics/metric-labels.js';
import { CLOSE_REASONS, UPGRADE_RESULTS } from '../metrics/metric-labels.js';
import { MetricsService, type Tally } from '../metrics/metrics.service.js';
import { CLIENT_FRAME_TYPES, ERROR_CODES, SERVER_FRAME_TYPES, type ClientFrameType, type ErrorCode } from './protocol.js';

/** The `type` label of a client frame: a protocol type, else `other` (the string is the client's choice). */
export type FrameTypeLabel = ClientFrameType | 'other';
export type FrameResult = 'ok' | ErrorCode;
type ServerFrameType = (typeof SERVER_FRAME_TYPES)[number];

const FRAME_TYPE_LABELS: readonly FrameTypeLabel[] = [...CLIENT_FRAME_TYPES, 'other'];
const FRAME_RESULTS: readonly FrameResult[] = ['ok', ...ERROR_CODES];
const CLIENT_TYPES = new Set<string>(CLIENT_FRAME_TYPES);

export function frameTypeLabel(type: string): FrameTypeLabel {
  return CLIENT_TYPES.has(type) ? (type as ClientFrameType) : 'other';
}

/** One label child per value, resolved once, so counting never builds a label object. */
function children<K extends string, V>(values: readonly K[], child: (value: K) => V): Record<K, V> {
  return Object.fromEntries(values.map((value) => [value, child(value)])) as Record<K, V>;
}

/**
 * The socket edge's series, with their label children resolved once: the
 * frame types and results, upgrade results and close reasons are closed
 * sets, so counting is a property lookup and an addition (a `Tally`, added
 * to the series when scraped). Broadcasts count
 * once per event (`broadcast(type, n)`), never per socket.
 */
@Injectable()
export class FrameMetrics {
  private readonly receivedBy: Record<FrameTypeLabel, Record<FrameResult, Tally>>;
  private readonly sentBy: Record<ServerFrameType, Tally>;
  private readonly upgradesBy: Record<UpgradeResult, Tally>;
  private readonly closesBy: Record<CloseReason, Tally>;
  private readonly deliveries: Tally;
  /** Frames a handler failed on, with the error code the filter answered; read once the handler is done. */
  private readonly failures = new WeakMap<object, ErrorCode>();

  constructor(private readonly metrics: MetricsService) {
    const { framesReceived, framesSent, upgrades, serverCloses } = metrics;
    this.receivedBy = children(FRAME_TYPE_LABELS, (type) =>
      children(FRAME_RESULTS, (result) => metrics.tally(framesReceived.labels(type, result))),
    );
    this.sentBy = children(SERVER_FRAME_TYPES, (type) => metrics.tally(framesSent.labels(type)));
    this.upgradesBy = children(UPGRADE_RESULTS, (result) => metrics.tally(upgrades.labels(result)));
    this.closesBy = children(CLOSE_REASONS, (reason) => metrics.tally(serverCloses.labels(reason)));
    this.deliveries = metrics.tally(metrics.deliveries);
  }

  /** A client frame answered without reaching a handler (not understood, rate limited, unknown type). */
  received(type: FrameTypeLabel, result: FrameResult): void {
    this.receivedBy[type][result].inc();
  }

  /** The error filter answered this frame with `code`. */
  failed(frame: object, code: ErrorCode): void {
    this.failures.set(frame, code);
  }

  /** A frame's handler is done: `ok`, or the code it was answered with. */
  handled(frame: { type: string }): void {
    this.receivedBy[frameTypeLabel(frame.type)][this.failures.get(frame) ?? 'ok'].inc();
  }

  /** One frame written to one socket. */
  sent(type: ServerFrameType): void {
    this.sentBy[type].inc();
  }

  /** One room event written to (or held for) `count` local sockets. */
  broadcast(type: ServerFrameType, count: number): void {
    if (count === 0) return;
    this.sentBy[type].inc(count);
    this.deliveries.inc(count);
  }

  upgrade(result: UpgradeResult): void {
    this.upgradesBy[result].inc();
  }

  closed(reason: CloseReason): void {
    this.closesBy[reason].inc();
  }

  connectionsOpen(count: number): void {
    this.metrics.connectionsOpen.set(count);
  }

  /** From `send_message` received (`performance.now()`) to its `message_ack` written. */
  acked(receivedAt: number): void {
    this.metrics.sendToAck.observe((performance.now() - receivedAt) / 1000);
  }

  /** From a message's `created_at` (its publish) to its write on this instance's sockets. */
  published(createdAt: string): void {
    const ms = Date.now() - isoMillis(createdAt);
    if (ms >= 0) this.metrics.publishToWrite.observe(ms / 1000);
  }
}
