// The room-event shape and its one codec live on the ground floor; this path stays for existing imports.
export * from '../core/room-event.js';
