import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { Message } from '../../src/chat/protocol.js';
import { token } from './tokens.js';

export const messagesPath = (roomId: string, messageId?: string): string =>
  `/api/v1/chats/rooms/${roomId}/messages${messageId === undefined ? '' : `/${messageId}`}`;

/** A 1×1 PNG: an image a member can upload. */
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

/**
 * A temporary UPLOAD_DIR for a describe's instances: `env()` makes it (pass it
 * to `useInstances`), `path()` is it, and it is removed after the describe.
 */
export function useUploadDir(): { env: () => Promise<{ UPLOAD_DIR: string }>; path: () => string; place: (path: string, bytes: Buffer) => Promise<void> } {
  let dir = '';
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return {
    env: async () => ({ UPLOAD_DIR: (dir = await mkdtemp(join(tmpdir(), 'chat-uploads-'))) }),
    path: () => dir,
    /** Writes a file at `path` under the directory, as a finished upload would leave it. */
    place: async (path, bytes) => {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), bytes);
    },
  };
}

export const bearer = (user: string): [string, string] => ['Authorization', `Bearer ${token(user)}`];

/** Creates a room over REST as `owner` with `members`, and returns its id. */
export async function createRoom(http: string, owner: string, members: string[], roomType = 'team', roomName = 'test room'): Promise<string> {
  const response = await request(http)
    .post('/api/v1/chats/rooms')
    .set('Authorization', `Bearer ${token(owner)}`)
    .send({ room_type: roomType, room_name: roomName, member_ids: members })
    .expect(201);
  return (response.body as { room_id: string }).room_id;
}

/** Sends over REST as `user` and returns the stored message. */
export async function post(http: string, roomId: string, user: string, content: string, extra: object = {}): Promise<Message> {
  const response = await request(http)
    .post(messagesPath(roomId))
    .set(...bearer(user))
    .send({ content, ...extra })
    .expect(201);
  return response.body as Message;
}

/** The room's whole retained history, oldest first, read page by page over REST. */
export async function fullHistory(http: string, roomId: string, user: string): Promise<Message[]> {
  const pages: Message[][] = [];
  let before: string | undefined;
  for (;;) {
    const response = await request(http)
      .get(messagesPath(roomId))
      .query(before === undefined ? { limit: 100 } : { limit: 100, before_message_id: before })
      .set(...bearer(user))
      .expect(200);
    const page = response.body as { messages: Message[]; has_more: boolean };
    pages.unshift(page.messages);
    if (!page.has_more || page.messages.length === 0) return pages.flat();
    before = page.messages[0].message_id;
  }
}
