/** A room as the REST API shows it (PROTOCOL §5, FocusMate's `ChatRoom` fields). */
export interface Room {
  room_id: string;
  room_type: 'direct' | 'team';
  room_name: string | null;
  description: string | null;
  owner_id: string;
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

/**
 * Rooms and their membership, shared by every instance.
 * Writes are visible to every instance as soon as they resolve; rooms are
 * never deleted. While a shared store is unreachable, calls reject with
 * `StoreUnavailableError`, except `isMember` for a pair this instance already asked about.
 */
export interface RoomStore {
  create(room: Room, members: Member[]): Promise<void>;
  get(roomId: string): Promise<Room | undefined>;
  /** The user's rooms, the most recently joined first. */
  listForUser(userId: string): Promise<Room[]>;
  members(roomId: string): Promise<Member[]>;
  isMember(roomId: string, userId: string): Promise<boolean>;
  /** Adds the member; returns the existing one if the user already belongs. */
  addMember(roomId: string, member: Member): Promise<Member>;
  /** Returns false if the user was not a member. */
  removeMember(roomId: string, userId: string): Promise<boolean>;
}
