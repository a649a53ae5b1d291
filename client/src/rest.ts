import type { Message } from './protocol.js';

/** A room as the REST API returns it (PROTOCOL §5). */
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
  last_message_at: string | null;
}

export interface HistoryPage {
  messages: Message[];
  total: number;
  has_more: boolean;
}

/** A REST answer other than 2xx. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RestError';
  }
}

/** `ws(s)://host/api/v1/chats/ws` → `http(s)://host/api/v1/chats`. */
export function restBaseFromSocketUrl(url: string): string {
  return url.replace(/^ws/, 'http').replace(/\/ws(\?.*)?$/, '');
}

/** The REST side of the service (rooms, members, history), with the same token as the socket. */
export class ChatRest {
  constructor(
    private readonly baseUrl: string,
    private readonly token: () => string,
  ) {}

  async rooms(): Promise<Room[]> {
    return (await this.call<{ rooms: Room[] }>('GET', '/rooms')).rooms;
  }

  createRoom(input: { room_type: 'direct' | 'team'; room_name?: string; description?: string; member_ids?: string[] }): Promise<Room> {
    return this.call('POST', '/rooms', input);
  }

  addMember(roomId: string, userId: string): Promise<unknown> {
    return this.call('POST', `/rooms/${encodeURIComponent(roomId)}/members`, { user_id: userId });
  }

  /** The newest `limit` messages before `before` (a message id), or the newest overall; oldest first. */
  history(roomId: string, options: { limit?: number; before?: string } = {}): Promise<HistoryPage> {
    const query = new URLSearchParams({ limit: String(options.limit ?? 50) });
    if (options.before) query.set('before_message_id', options.before);
    return this.call('GET', `/rooms/${encodeURIComponent(roomId)}/messages?${query}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token()}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const message = (parsed as { message?: unknown })?.message;
      throw new RestError(response.status, Array.isArray(message) ? message.join('; ') : String(message ?? response.statusText));
    }
    return parsed as T;
  }
}
