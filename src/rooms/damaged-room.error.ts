/**
 * A room whose stored `info` is there but is not the room's (a damaged key:
 * overwritten, half-restored): a failure of the store, never "no such room".
 * Neither filter knows it, so the socket edge answers `internal_error`, REST
 * 500, and both log it; a list of rooms leaves such a room out instead.
 * Judged by `decodeRoomInfo` (stored-room.ts) on every read of a
 * room (a send reads none: the history does not need it).
 */
export class DamagedRoomError extends Error {
  constructor(readonly roomId: string) {
    super(`room ${roomId}: its stored info is not a room's`);
    this.name = 'DamagedRoomError';
  }
}
