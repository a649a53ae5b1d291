import { Inject, Injectable } from '@nestjs/common';
import { newId } from '../core/ids.js';
import { composeKey } from '../core/key-parts.js';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import type { Message } from '../core/message.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { changeEvent, newMessage, type HistoryHead, type HistoryPage, type MessageDraft, type MessageStore, type RoomLatest } from './message.store.js';
import { HistoryArena, type Slab } from './history-arena.js';
import type { MemoryReadStore } from './memory-read.store.js';

/**
 * A room's retained messages, oldest first, as parallel arrays (an object
 * per room, not per message): message `i` has seq `seq - length + 1 + i`,
 * since seqs are contiguous and only the oldest are dropped.
 */
interface RoomHistory {
  /** The room's id, one string every retained message of the room shares. */
  roomId: string;
  seq: number;
  /** Where each message's JSON lives in the arena. */
  slabs: Slab[];
  starts: number[];
  ends: number[];
  /** Each message's key in `sent`, if it has a client_msg_id. */
  sentKeys: Array<string | undefined>;
  /** When the newest message was created. */
  lastCreatedAt: string | null;
}

/** A shared slab is this share of HISTORY_MAX_BYTES, within these sizes: what the slab being filled adds to the bound stays small. */
const SLAB_SHARE = 1 / 16;
const MIN_SLAB_BYTES = 4 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024;

const count = (history: RoomHistory): number => history.starts.length;
const oldestSeq = (history: RoomHistory): number => history.seq - count(history) + 1;

/**
 * The embedded history: bounded per room (HISTORY_MAX_PER_ROOM) and in
 * total (HISTORY_MAX_BYTES of JSON, the oldest message of any room going
 * first), gone with the process. Messages are kept as JSON off the heap
 * (`HistoryArena`) and decoded when read. A new process has a new epoch, so
 * clients never mistake its history for the old one. A `client_msg_id` is
 * remembered for the dedup window or as long as its message is retained,
 * whichever is shorter. Given the read store, an append also moves the
 * sender's read position.
 */
@Injectable()
export class MemoryMessageStore implements MessageStore {
  private readonly epoch = newId();
  private readonly rooms = new Map<string, RoomHistory>();
  private readonly arena: HistoryArena;
  /** `composeKey(room, sender, client_msg_id)` → the original message's seq and when it stops counting. */
  private readonly sent = new Map<string, { seq: number; until: number }>();
  /**
   * Every retained message of every room in the order they were appended,
   * as its room (`orderRooms`) and seq (`orderSeqs`, same index; two arrays,
   * not an object per message), oldest from `oldest` on: the order the byte
   * bound drops them in. An entry whose message its room already dropped is skipped.
   */
  private orderRooms: RoomHistory[] = [];
  private orderSeqs: number[] = [];
  private oldest = 0;
  private retainedCount = 0;

  constructor(
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly reads?: MemoryReadStore,
  ) {
    const share = Math.floor(settings.messages.historyMaxBytes * SLAB_SHARE);
    this.arena = new HistoryArena(Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, share)));
  }

  get marksSenderRead(): boolean {
    return this.reads !== undefined;
  }

  async append(draft: MessageDraft, dedupWindowMs: number): Promise<{ message: Message; duplicate: boolean }> {
    const now = Date.now();
    const key = draft.client_msg_id === null ? undefined : composeKey(draft.room_id, draft.sender_id, draft.client_msg_id);
    const history = this.history(draft.room_id);
    if (key) {
      const original = this.sent.get(key);
      // An entry is forgotten when its message is dropped, so the original is still retained.
      if (original && original.until > now) return { message: this.decode(history, original.seq - oldestSeq(history)), duplicate: true };
    }
    const message = newMessage(draft, ++history.seq, new Date(now));
    const { slab, start, end } = this.arena.write(JSON.stringify(message));
    history.slabs.push(slab);
    history.starts.push(start);
    history.ends.push(end);
    history.sentKeys.push(key);
    history.lastCreatedAt = message.created_at;
    this.retainedCount += 1;
    this.orderRooms.push(history);
    this.orderSeqs.push(history.seq);
    this.reads?.move(draft.room_id, draft.sender_id, history.seq, message.created_at);
    if (key) {
      this.sent.set(key, { seq: history.seq, until: now + dedupWindowMs });
      this.forgetExpired(now);
    }
    if (count(history) > this.settings.messages.historyMaxPerRoom) this.dropOldest(history);
    this.dropBeyondBytes();
    this.compactOrder();
    // Not waited for: the bus has queued the delivery once `publish` returns, and never fails (one suspension less per message).
    void this.bus.publish(draft.room_id, { type: 'message', data: message, epoch: this.epoch });
    return { message, duplicate: false };
  }

  async head(roomId: string): Promise<HistoryHead> {
    const history = this.rooms.get(roomId);
    const retained = history !== undefined && count(history) > 0;
    return { seq: history?.seq ?? 0, epoch: this.epoch, lastMessageAt: retained ? history.lastCreatedAt : null };
  }

  async latest(roomIds: string[]): Promise<RoomLatest[]> {
    return roomIds.map((roomId) => {
      const history = this.rooms.get(roomId);
      if (!history || count(history) === 0) return { seq: history?.seq ?? 0, message: null };
      return { seq: history.seq, message: this.decode(history, count(history) - 1) };
    });
  }

  async readAfter(roomId: string, afterSeq: number, limit: number) {
    const head = await this.head(roomId);
    const history = this.rooms.get(roomId);
    if (!history) return { head, messages: [], complete: true };
    const oldest = oldestSeq(history);
    const from = Math.max(0, afterSeq + 1 - oldest);
    return { head, messages: this.decodeRange(history, from, from + limit), complete: afterSeq + 1 >= oldest };
  }

  async get(roomId: string, messageId: string): Promise<Message | undefined> {
    const history = this.rooms.get(roomId);
    const at = history ? this.indexOf(history, messageId) : -1;
    return at < 0 ? undefined : this.decode(history!, at);
  }

  async replace(message: Message, previous: Message, event: 'message_updated' | 'message_deleted'): Promise<boolean> {
    const history = this.rooms.get(message.room_id);
    const at = history ? this.indexOf(history, message.message_id) : -1;
    if (at < 0 || this.decode(history!, at).updated_at !== previous.updated_at) return false;
    const { slab, start, end } = this.arena.write(JSON.stringify(message));
    this.arena.release(history!.slabs[at]);
    history!.slabs[at] = slab;
    history!.starts[at] = start;
    history!.ends[at] = end;
    this.dropBeyondBytes();
    await this.bus.publish(message.room_id, changeEvent(message, event));
    return true;
  }

  async page(roomId: string, beforeSeq: number | undefined, limit: number): Promise<HistoryPage> {
    const history = this.rooms.get(roomId);
    if (!history) return { messages: [], total: 0, hasMore: false };
    const retained = count(history);
    const end = beforeSeq === undefined ? retained : Math.max(0, Math.min(retained, beforeSeq - oldestSeq(history)));
    const start = Math.max(0, end - limit);
    return { messages: this.decodeRange(history, start, end), total: retained, hasMore: start > 0 };
  }

  private history(roomId: string): RoomHistory {
    let history = this.rooms.get(roomId);
    if (!history) {
      history = { roomId, seq: 0, slabs: [], starts: [], ends: [], sentKeys: [], lastCreatedAt: null };
      this.rooms.set(roomId, history);
    }
    return history;
  }

  private decode(history: RoomHistory, at: number): Message {
    return JSON.parse(this.arena.read(history.slabs[at], history.starts[at], history.ends[at])) as Message;
  }

  private decodeRange(history: RoomHistory, from: number, to: number): Message[] {
    const messages: Message[] = [];
    for (let at = from; at < Math.min(to, count(history)); at++) messages.push(this.decode(history, at));
    return messages;
  }

  /** The index of a retained message by id, newest first (edits are mostly of recent messages), or -1. */
  private indexOf(history: RoomHistory, messageId: string): number {
    // The id as a JSON member; a match inside an attachment is ruled out by decoding.
    const needle = Buffer.from(`"message_id":${JSON.stringify(messageId)}`);
    for (let at = count(history) - 1; at >= 0; at--) {
      if (!this.arena.contains(history.slabs[at], history.starts[at], history.ends[at], needle)) continue;
      if (this.decode(history, at).message_id === messageId) return at;
    }
    return -1;
  }

  /** Drops the oldest messages of any room while the arena holds more than HISTORY_MAX_BYTES. */
  private dropBeyondBytes(): void {
    while (this.arena.heldBytes > this.settings.messages.historyMaxBytes && this.oldest < this.orderSeqs.length) {
      const room = this.orderRooms[this.oldest];
      const seq = this.orderSeqs[this.oldest++];
      if (count(room) > 0 && oldestSeq(room) === seq) this.dropOldest(room);
    }
  }

  /**
   * Forgets the order entries of messages already dropped (by the byte
   * bound, or by their room's own bound) once they outnumber the retained
   * ones: the order stays within twice the history, at a cost spread over the appends.
   */
  private compactOrder(): void {
    if (this.orderSeqs.length - this.oldest <= 2 * this.retainedCount + 1024) return;
    const rooms: RoomHistory[] = [];
    const seqs: number[] = [];
    for (let i = this.oldest; i < this.orderSeqs.length; i++) {
      const room = this.orderRooms[i];
      if (count(room) > 0 && oldestSeq(room) <= this.orderSeqs[i]) {
        rooms.push(room);
        seqs.push(this.orderSeqs[i]);
      }
    }
    this.orderRooms = rooms;
    this.orderSeqs = seqs;
    this.oldest = 0;
  }

  /** Drops a room's oldest message, and its client_msg_id with it. */
  private dropOldest(history: RoomHistory): void {
    if (count(history) === 0) return;
    const seq = oldestSeq(history);
    this.arena.release(history.slabs.shift()!);
    history.starts.shift();
    history.ends.shift();
    const key = history.sentKeys.shift();
    this.retainedCount -= 1;
    if (key !== undefined && this.sent.get(key)?.seq === seq) this.sent.delete(key);
  }

  /** Map iteration is insertion order, so expired keys are at the front. */
  private forgetExpired(now: number): void {
    for (const [key, entry] of this.sent) {
      if (entry.until > now) break;
      this.sent.delete(key);
    }
  }
}
