import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { setImmediate } from 'node:timers/promises';
import { DomainError } from '../core/domain.error.js';
import type { Message } from '../core/message.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { SignedUrls } from '../files/signed-urls.js';
import type { RecoveryOutcome } from '../metrics/metric-labels.js';
import { MetricsService, type Tally } from '../metrics/metrics.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { StoreUnavailableError } from '../redis/store-unavailable.error.js';
import { ReadStateService } from './read-state.service.js';
import { react, readReactions, type Reaction } from './reactions.js';
import { CHANGES_KEPT, MESSAGE_STORE, type HistoryHead, type MessageStore, type RoomLatest } from './message.store.js';

export interface SendInput {
  content: string;
  message_type?: string;
  client_msg_id?: string;
  parent_message_id?: string;
  attachments?: string[];
}

/** Messages read per step of a search. */
const SEARCH_BATCH = 500;
/** Characters a search compares between two turns of the event loop (at most about 2 ms): a long search does not hold it. */
const SEARCH_CHARS_PER_TURN = 100_000;
/** Compare-and-set tries of one edit, delete or reaction lost with no other change made, before it answers unavailable. */
const CHANGE_ATTEMPTS = 50;

export interface Since {
  seq: number;
  epoch: string;
}

/** What a join owes the client, and where the history stands. */
export interface Recovery {
  head: HistoryHead;
  messages: Message[];
  recovered: boolean;
}

/**
 * Sending and reading messages. Callers check membership first (a joined
 * room on the socket, a member on REST); this service owns the message rules.
 */
@Injectable()
export class MessagesService {
  private readonly logger = new Logger(MessagesService.name);
  /** `chat_messages_sent_total` by result, counted per message. */
  private readonly sentBy: Record<'stored' | 'duplicate', Tally> | undefined;

  constructor(
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly presence: PresenceService,
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly links: SignedUrls,
    @Optional() private readonly metrics?: MetricsService,
    @Optional() private readonly reads?: ReadStateService,
  ) {
    this.sentBy = metrics && {
      stored: metrics.tally(metrics.messagesSent.labels('stored')),
      duplicate: metrics.tally(metrics.messagesSent.labels('duplicate')),
    };
  }

  /**
   * Appends and broadcasts; a retried `client_msg_id` returns the original and broadcasts nothing.
   * `system` messages are for service tokens (`isService`) only.
   */
  async send(
    senderId: string,
    roomId: string,
    input: SendInput,
    isService = false,
  ): Promise<{ message: Message; duplicate: boolean }> {
    this.checkLength(input.content, roomId);
    if (input.message_type === 'system' && !isService) {
      throw new DomainError('invalid_input', 'message_type system is for service tokens only', roomId);
    }
    const result = await this.store.append(
      {
        room_id: roomId,
        sender_id: senderId,
        content: input.content,
        message_type: input.message_type ?? 'text',
        parent_message_id: input.parent_message_id ?? null,
        client_msg_id: input.client_msg_id ?? null,
        attachments: input.attachments && input.attachments.length > 0 ? this.links.keep(roomId, input.attachments) : null,
      },
      this.settings.messages.dedupWindowMs,
    );
    this.sentBy?.[result.duplicate ? 'duplicate' : 'stored'].inc();
    // The message is committed: a failure to end the typing must not report the send as failed.
    if (!result.duplicate) {
      const sharedEnded = this.store.endsTyping ? (result.typingEnded ?? null) : undefined;
      this.presence.stopTyping(roomId, senderId, sharedEnded).catch((error: unknown) => {
        this.logger.warn(`Could not end typing after a send in room ${roomId}: ${error instanceof Error ? error.message : String(error)}`);
      });
      // One's own messages are never unread: sending marks the room read up to the message (before the ack),
      // in the append itself where the store can.
      if (!this.store.marksSenderRead) await this.reads?.sent(roomId, senderId, result.message.seq ?? 0).catch((error: unknown) => {
        this.logger.warn(`Could not mark room ${roomId} read after a send: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    return { ...result, message: this.present(result.message) };
  }

  /** The message as clients get it: links to its room's files signed afresh (a stored message keeps them unsigned). */
  present(message: Message): Message {
    return this.links.present(message);
  }

  /** The newest `limit` messages before `beforeMessageId` (or the newest overall), oldest first. */
  async history(
    roomId: string,
    limit: number,
    beforeMessageId?: string,
  ): Promise<{ messages: Message[]; total: number; has_more: boolean }> {
    const before = beforeMessageId === undefined ? undefined : await this.existing(roomId, beforeMessageId);
    const page = await this.store.page(roomId, before?.seq, limit);
    return { messages: page.messages.map((m) => this.present(m)), total: page.total, has_more: page.hasMore };
  }

  /**
   * Up to `limit` messages whose content contains `query` (case-insensitive),
   * newest first, deleted ones left out. Reads the newest messages in
   * batches and stops after `SEARCH_MAX_SCANNED` of them or
   * `SEARCH_MAX_SCANNED_CHARS` of their content, so a full room costs a
   * bounded read; `total` counts the matches among those read, and
   * `has_more` is true when more matched than returned or older history was
   * left unread. It lets the event loop turn every `SEARCH_CHARS_PER_TURN`.
   */
  async search(roomId: string, query: string, limit: number): Promise<{ messages: Message[]; total: number; has_more: boolean }> {
    const needle = query.toLowerCase();
    const { searchMaxScanned, searchMaxScannedChars } = this.settings.messages;
    const found: Message[] = [];
    let total = 0;
    let scanned = 0;
    let chars = 0;
    let charsThisTurn = 0;
    let before: number | undefined;
    let unread = false;
    while (!unread) {
      const batch = Math.min(SEARCH_BATCH, searchMaxScanned - scanned);
      if (batch <= 0) {
        unread = true;
        break;
      }
      const { messages, hasMore } = await this.store.page(roomId, before, batch);
      // Newest first.
      for (let i = messages.length - 1; i >= 0; i--) {
        const message = messages[i];
        // At least one message, however long: a bound under the longest message would otherwise find nothing.
        if (scanned > 0 && chars + message.content.length > searchMaxScannedChars) {
          unread = true;
          break;
        }
        scanned += 1;
        chars += message.content.length;
        charsThisTurn += message.content.length;
        if (!message.is_deleted && message.content.toLowerCase().includes(needle)) {
          total += 1;
          if (found.length < limit) found.push(message);
        }
        if (charsThisTurn >= SEARCH_CHARS_PER_TURN) {
          charsThisTurn = 0;
          await setImmediate();
        }
      }
      const oldest = messages[0]?.seq;
      if (!hasMore || oldest === undefined) break;
      before = oldest;
    }
    return { messages: found.map((m) => this.present(m)), total, has_more: total > found.length || unread };
  }

  /**
   * Adds (or with `add` false takes away) the user's `emoji` on a message
   * and broadcasts the whole message as `message_updated`, in the room's
   * order with edits; a change that changes nothing broadcasts nothing.
   * Returns the message's reactions.
   */
  async react(userId: string, roomId: string, messageId: string, emoji: string, add: boolean): Promise<Reaction[]> {
    const message = await this.change(
      () => this.existing(roomId, messageId),
      'message_updated',
      (current) => {
        if (current.is_deleted) {
          // A tombstone holds no reactions: taking one away changes nothing.
          if (!add) return undefined;
          throw new DomainError('invalid_input', 'A deleted message takes no reactions', roomId);
        }
        const next = react(readReactions(current.reactions), emoji, userId, add);
        if (next === 'full') throw new DomainError('limit_reached', 'This message has as many different reactions as it may', roomId);
        return next && { ...current, reactions: next };
      },
    );
    return readReactions(message.reactions);
  }

  /** Edits a message's content; only its sender may, and `message_updated` is broadcast. */
  async edit(userId: string, roomId: string, messageId: string, content: string): Promise<Message> {
    this.checkLength(content, roomId);
    const edited = await this.change(() => this.own(userId, roomId, messageId), 'message_updated', (message) => {
      if (message.is_deleted) throw new DomainError('invalid_input', 'A deleted message cannot be edited', roomId);
      return { ...message, content, is_edited: true };
    });
    return this.present(edited);
  }

  /**
   * Leaves a tombstone so `seq` keeps no holes: no content, attachments or
   * reactions (its files are no longer handed out); `message_deleted` is broadcast once.
   */
  async delete(userId: string, roomId: string, messageId: string): Promise<Message> {
    const deleted = await this.change(() => this.own(userId, roomId, messageId), 'message_deleted', (message) =>
      message.is_deleted ? undefined : { ...message, content: '', attachments: null, reactions: [], is_deleted: true },
    );
    return this.present(deleted);
  }

  /**
   * Read, check, write as a compare-and-set on `updated_at`, so an edit and a
   * delete racing (on two instances) never undo one another: the loser
   * re-reads and decides again. `apply` returns undefined for "nothing to do".
   */
  private async change(
    load: () => Promise<Message>,
    event: 'message_updated' | 'message_deleted',
    apply: (current: Message) => Omit<Message, 'updated_at'> | undefined,
  ): Promise<Message> {
    // A compare lost to another writer's change is tried again however often that happens (many reacting at
    // once); one lost while the message stayed as read is a store that does not agree, and is bounded.
    let seen: string | undefined;
    let stalled = 0;
    while (stalled < CHANGE_ATTEMPTS) {
      const current = await load();
      const next = apply(current);
      if (!next) return current;
      const changed = { ...next, updated_at: laterThan(current.updated_at) };
      if (await this.store.replace(changed, current, event)) return changed;
      stalled = current.updated_at === seen ? stalled + 1 : 1;
      seen = current.updated_at;
    }
    this.logger.warn(`Gave up changing a message after ${CHANGE_ATTEMPTS} compares lost with no other change made`);
    throw new StoreUnavailableError('The message could not be changed; try again');
  }

  private async existing(roomId: string, messageId: string): Promise<Message> {
    const message = await this.store.get(roomId, messageId);
    if (!message) throw new DomainError('not_found', 'No such message');
    return message;
  }

  private async own(userId: string, roomId: string, messageId: string): Promise<Message> {
    const message = await this.existing(roomId, messageId);
    if (message.sender_id !== userId) throw new DomainError('forbidden', 'Only the sender may change a message');
    return message;
  }

  private checkLength(content: string, roomId: string): void {
    const max = this.settings.limits.maxMessageLength;
    if (content.length > max) {
      throw new DomainError('content_too_long', `content must be at most ${max} characters`, roomId);
    }
  }

  /** Each room's latest seq and message (null for none), in the order given, in one round trip. */
  latest(roomIds: string[]): Promise<RoomLatest[]> {
    return roomIds.length === 0 ? Promise.resolve([]) : this.store.latest(roomIds);
  }

  /** Up to `limit` messages after `afterSeq`, oldest first, and the head they were read at. */
  async readAfter(
    roomId: string,
    afterSeq: number,
    limit: number,
  ): Promise<{ head: HistoryHead; messages: Message[]; complete: boolean }> {
    const read = await this.storedAfter(roomId, afterSeq, limit);
    return { ...read, messages: read.messages.map((m) => this.present(m)) };
  }

  /**
   * Retained messages edited, deleted or reacted to since `sinceMs`, as stored (links unsigned), at most
   * the store keeps track of: what a bus that was away missed of them (the fan-out's catch-up).
   */
  storedChangedSince(roomId: string, sinceMs: number): Promise<Message[]> {
    return this.store.changedSince(roomId, sinceMs, CHANGES_KEPT);
  }

  /** `readAfter` as stored, links unsigned: for a caller that presents each message as it writes it (the fan-out's catch-up). */
  storedAfter(roomId: string, afterSeq: number, limit: number): Promise<{ head: HistoryHead; messages: Message[]; complete: boolean }> {
    return this.store.readAfter(roomId, afterSeq, limit);
  }

  /**
   * What a join owes the client: with `since` from the same epoch, at most
   * `limit` behind and still retained, every later message; otherwise none
   * and `recovered: false`. Decided from the head first, so a refusal reads
   * no history.
   */
  async recover(
    roomId: string,
    since: Since | undefined,
    limit: number,
  ): Promise<Recovery> {
    const head = await this.store.head(roomId);
    if (!since) return { head, messages: [], recovered: false };
    // Decided from the head before anything is read: a refusal costs one round trip.
    const refusal: RecoveryOutcome | undefined =
      since.epoch !== head.epoch
        ? 'epoch_changed'
        : since.seq > head.seq
          ? 'ahead'
          : head.seq - since.seq > limit
            ? 'too_far_behind'
            : undefined;
    if (refusal) {
      this.metrics?.recoveries.inc({ outcome: refusal });
      return { head, messages: [], recovered: false };
    }
    if (since.seq === head.seq) {
      this.metrics?.recoveries.inc({ outcome: 'recovered' });
      return { head, messages: [], recovered: true };
    }
    const read = await this.readAfter(roomId, since.seq, limit + 1);
    const recovered = read.complete && since.epoch === read.head.epoch && read.messages.length <= limit;
    this.metrics?.recoveries.inc({ outcome: recovered ? 'recovered' : 'too_far_behind' });
    return { head: read.head, messages: recovered ? read.messages : [], recovered };
  }
}

/** Now, or a millisecond after `previous` when the clock has not moved on: every change gets a new `updated_at`. */
function laterThan(previous: string): string {
  const now = Date.now();
  const after = Date.parse(previous) + 1;
  return new Date(Math.max(now, after)).toISOString();
}
