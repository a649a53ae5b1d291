import type { RoomEvent } from '../core/room-event.js';

export const PRESENCE_STORE = Symbol('PRESENCE_STORE');

/** Someone typing in a room, and the connection their latest start came from. */
export interface Typist {
  userId: string;
  connectionId: string;
}

/**
 * Who is online and who is typing, per room, shared by every instance.
 *
 * Each method is atomic, so of two instances racing on the same change only
 * one is told that it happened (and broadcasts it). Typing lasts `ttlMs`
 * after the latest start; nothing expires by itself: `expireTyping` ends it,
 * and `typing()` never lists an expired typist. An implementation whose
 * shared part is unreachable answers from this instance's own connections
 * rather than failing.
 */
export interface PresenceStore {
  /**
   * True when the store publishes the event of every change it reports on
   * the room's channel itself, in the step that decides it (so changes made
   * on different instances arrive in the order they were made); false when
   * the caller publishes them.
   */
  readonly announces: boolean;
  /** Records a connection joined to a room; true when the user just came online there. */
  addConnection(roomId: string, userId: string, connectionId: string): Promise<boolean>;
  /**
   * Forgets the connection; true when it was the user's last one in the
   * room. A store that `announces` then also ends the user's typing there.
   */
  removeConnection(roomId: string, userId: string, connectionId: string): Promise<boolean>;
  /**
   * Who is online in the room. A shared store that cannot be read answers
   * from this instance alone, or with `strict` fails (`StoreUnavailableError`).
   */
  online(roomId: string, strict?: boolean): Promise<string[]>;

  /**
   * Records a start that lasts `ttlMs`; true when no start was broadcast within
   * the last `throttleMs`, i.e. this one is to be broadcast.
   */
  startTyping(roomId: string, typist: Typist, now: number, throttleMs: number, ttlMs: number): Promise<boolean>;
  /**
   * Ends the user's typing; returns who was typing, or undefined if they were not.
   * `sharedEnded`, when given, is the answer of a script that already ended
   * the shared typing (a message's append): the typist's connection or null;
   * the shared part is then not asked again.
   */
  stopTyping(roomId: string, userId: string, sharedEnded?: string | null): Promise<Typist | undefined>;
  /** Ends and returns every typing in the room that expired by `now`. */
  expireTyping(roomId: string, now: number): Promise<Typist[]>;
  /** Who is typing in the room at `now`; `strict` as for `online`. */
  typing(roomId: string, now: number, strict?: boolean): Promise<string[]>;
}

/** The events of the changes a presence store decides, built in one place for whoever publishes them. */
export function presenceEvent(userId: string, status: 'online' | 'offline', connectionId: string): RoomEvent {
  return { type: 'presence', data: { user_id: userId, status, connection_id: connectionId } };
}

export function typingEvent(typist: Typist): RoomEvent {
  return { type: 'typing', data: { user_id: typist.userId, connection_id: typist.connectionId } };
}

export function stoppedEvent(typist: Typist): RoomEvent {
  return { type: 'typing_stopped', data: { user_id: typist.userId, connection_id: typist.connectionId } };
}
