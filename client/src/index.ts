export { ChatClient, ChatError } from './chat-client.js';
export type { ChatClientEvents, ChatClientOptions, CloseReason, ConnectionState, RoomSync } from './chat-client.js';
export { localStorageOutboxStore, memoryOutboxStore } from './outbox.js';
export type { OutboxEntry, OutboxStore } from './outbox.js';
export { ChatRest, RestError, restBaseFromSocketUrl } from './rest.js';
export type { HistoryPage, Room } from './rest.js';
export type { Cursor, Message } from './protocol.js';
export type { SocketFactory, SocketLike } from './socket.js';
export { backoffDelay } from './backoff.js';
