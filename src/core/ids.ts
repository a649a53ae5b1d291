import { randomUUID } from 'node:crypto';

/** Longest room, user-supplied message and client message id accepted from outside. */
export const MAX_ID_LENGTH = 128;

/** A new id for a room, a message, a connection, an instance or a history epoch. */
export function newId(): string {
  return randomUUID();
}
