/** A chat message as every client sees it (PROTOCOL §3). */
export interface Message {
  message_id: string;
  room_id: string;
  sender_id: string;
  /** Position in the room, 1, 2, 3 … without gaps; absent on events of the main backend. */
  seq?: number;
  message_type: string;
  content: string;
  attachments: unknown[] | null;
  parent_message_id: string | null;
  thread_count: number;
  reactions: unknown[];
  is_edited: boolean;
  is_deleted: boolean;
  created_at: string;
  updated_at: string;
  client_msg_id: string | null;
}
