export const ROOM_TYPES = ['direct', 'team', 'matching'] as const;
export type RoomType = (typeof ROOM_TYPES)[number];

/** A room as the REST API shows it (PROTOCOL §5, FocusMate's `ChatRoom` fields). */
export interface Room {
  room_id: string;
  room_type: RoomType;
  room_name: string | null;
  description: string | null;
  owner_id: string;
  /** The main backend's team a team room belongs to, when it was created for one. */
  team_id?: string | null;
  /** A direct room's two users, kept so the partner is still named after one leaves; not shown to clients. */
  direct_user_ids?: string[];
  member_ids: string[];
  is_active: boolean;
  is_archived: boolean;
  created_at: string;
  /** Filled in from the message history, not kept by the room store. */
  last_message_at: string | null;
}

export interface Member {
  user_id: string;
  role: 'owner' | 'member';
  joined_at: string;
}

export const ROOM_STORE = Symbol('ROOM_STORE');

/** What a room and a user may hold, checked atomically with the write that would pass them. */
export interface MembershipLimits {
  /** Members of one room. */
  membersPerRoom: number;
  /** Rooms one user is a member of. */
  roomsPerUser: number;
}

export interface CreateLimits extends MembershipLimits {
  /** Rooms the owner may have created in all; null for no limit (service tokens). */
  roomsCreatedByOwner: number | null;
}

export type CreateOutcome =
  /** Written under `roomId`: the room's own id, or for a direct pair the id an unfinished earlier create claimed. */
  | { status: 'created'; roomId: string }
  /** A direct room of the same two users already exists. */
  | { status: 'exists'; roomId: string }
  | { status: 'owner_quota' }
  | { status: 'user_full'; userId: string };

export type AddOutcome =
  | { status: 'added' | 'existing'; member: Member }
  | { status: 'room_full' }
  | { status: 'user_full' };

/** One page: `total` counts every item, `offset` is where the page starts. */
export interface Page<T> {
  items: T[];
  total: number;
}

/**
 * The one key of a direct room's two users, the same whichever created it:
 * each id percent-encoded (so `:` cannot occur inside a part), sorted, joined by `:`.
 */
export function directPair(a: string, b: string): string {
  return [encodeURIComponent(a), encodeURIComponent(b)].sort().join(':');
}

/**
 * Rooms and their membership, shared by every instance.
 * Writes are visible to every instance as soon as they resolve; rooms are
 * never deleted. While a shared store is unreachable, calls reject with
 * `StoreUnavailableError`, except `isMember` for a pair this instance already asked about.
 */
export interface RoomStore {
  /**
   * Creates the room with its members in one atomic step, unless a limit
   * refuses it: the owner's rooms created, any member's rooms. With
   * `direct` (the two users' `directPair`), a direct room of that pair is
   * created at most once; the existing one is answered instead.
   */
  create(room: Room, members: Member[], limits: CreateLimits, direct?: string): Promise<CreateOutcome>;
  /** The room, or undefined for none; a room whose stored data is damaged rejects (a failure of the store, never "no such room"). */
  get(roomId: string): Promise<Room | undefined>;
  /** Each room, in the order given (undefined for none), in one round trip; a damaged room is undefined too (logged), so it fails no list. */
  getMany(roomIds: string[]): Promise<Array<Room | undefined>>;
  /** Every room id of the user, the most recently joined first (at most MAX_ROOMS_PER_USER). */
  roomIdsOf(userId: string): Promise<string[]>;
  /** A page of the user's rooms, the most recently joined first. */
  listForUser(userId: string, offset: number, limit: number): Promise<Page<Room>>;
  /** A page of the room's members, in the order they joined. */
  members(roomId: string, offset: number, limit: number): Promise<Page<Member>>;
  /** False for an unknown room; a damaged room rejects, as in `get`. */
  isMember(roomId: string, userId: string): Promise<boolean>;
  /** The user's membership of the room (when they joined it this time), or undefined. */
  member(roomId: string, userId: string): Promise<Member | undefined>;
  /** Adds the member unless the room or the user is full; an existing member is answered as it is. */
  addMember(roomId: string, member: Member, limits: MembershipLimits): Promise<AddOutcome>;
  /** Returns false if the user was not a member. */
  removeMember(roomId: string, userId: string): Promise<boolean>;
}
