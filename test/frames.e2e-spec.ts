import { answersTo, expectServed, join } from './support/client.js';
import { useInstances } from './support/instances.js';
import { token } from './support/tokens.js';
import type { TestClient } from './support/ws-client.js';

/** A room id of the right shape that no room has. */
const UNKNOWN_ROOM = '00000000-0000-4000-8000-000000000000';

const errorOf = (code: string, message: unknown = expect.any(String)) => ({ type: 'error', code, message });

// Every frame's answer is the same whichever validator checks it.
describe.each(['compiled', 'class-validator'])('frames (PROTOCOL §2), %s validator', (validator) => {
  const chat = useInstances({ env: { RATE_LIMIT_PER_SECOND: 1000, RATE_LIMIT_BURST: 1000, FRAME_VALIDATOR: validator } });
  let client: TestClient;

  beforeEach(async () => {
    client = await chat.connect('frank');
  });

  it.each(['not json', '{"type":"ping"', "{'type':'ping'}", '', 'pong'])(
    'answers the non-JSON text %j with invalid_json and keeps serving',
    async (raw) => {
      expect(await answersTo(client, raw)).toEqual([errorOf('invalid_json')]);
    },
  );

  it('answers a binary frame with invalid_frame, even when it holds valid JSON', async () => {
    expect(await answersTo(client, Buffer.from('{"type":"ping"}'))).toEqual([errorOf('invalid_frame')]);
    expect(await answersTo(client, Buffer.from([0xff, 0x00, 0x13]))).toEqual([errorOf('invalid_frame')]);
  });

  it.each(['[]', '[{"type":"ping"}]', '42', '-1.5', 'null', 'true', '"ping"'])(
    'answers the non-object JSON %s with invalid_frame',
    async (raw) => {
      expect(await answersTo(client, raw)).toEqual([errorOf('invalid_frame')]);
    },
  );

  it.each(['{}', '{"room_id":"r"}', '{"type":5}', '{"type":null}', '{"type":true}', '{"type":["ping"]}', '{"type":{}}'])(
    'answers %s (no string type) with invalid_frame naming type',
    async (raw) => {
      expect(await answersTo(client, raw)).toEqual([errorOf('invalid_frame', expect.stringContaining('type'))]);
    },
  );

  it.each([
    ['room_id', { type: 'join_room', room_id: 5 }],
    ['room_id', { type: 'join_room' }],
    ['room_id', { type: 'join_room', room_id: '' }],
    ['room_id', { type: 'leave_room', room_id: null }],
    ['room_id', { type: 'typing', room_id: ['r'] }],
    ['is_typing', { type: 'typing', room_id: UNKNOWN_ROOM, is_typing: 'yes' }],
    ['is_typing', { type: 'typing', room_id: UNKNOWN_ROOM, is_typing: 1 }],
    ['since.seq', { type: 'join_room', room_id: UNKNOWN_ROOM, since: { seq: '3', epoch: 'e' } }],
    ['since.seq', { type: 'join_room', room_id: UNKNOWN_ROOM, since: { seq: -1, epoch: 'e' } }],
    ['since.epoch', { type: 'join_room', room_id: UNKNOWN_ROOM, since: { seq: 3 } }],
    ['since', { type: 'join_room', room_id: UNKNOWN_ROOM, since: 7 }],
    ['content', { type: 'send_message', room_id: UNKNOWN_ROOM }],
    ['content', { type: 'send_message', room_id: UNKNOWN_ROOM, content: 42 }],
    ['room_id', { type: 'send_message', content: 'hi' }],
    ['message_type', { type: 'send_message', room_id: UNKNOWN_ROOM, content: 'hi', message_type: 'video' }],
    ['attachments', { type: 'send_message', room_id: UNKNOWN_ROOM, content: 'hi', attachments: 'a.png' }],
    ['attachments', { type: 'send_message', room_id: UNKNOWN_ROOM, content: 'hi', attachments: [7] }],
    ['client_msg_id', { type: 'send_message', room_id: UNKNOWN_ROOM, content: 'hi', client_msg_id: 7 }],
    ['token', { type: 'refresh_token' }],
    ['token', { type: 'refresh_token', token: 12 }],
  ])('answers invalid_frame naming %s, with the ref, to %j', async (field, frame) => {
    const answers = await answersTo(client, JSON.stringify({ ...frame, ref: 'bad' }));
    expect(answers).toEqual([{ ...errorOf('invalid_frame', expect.stringContaining(field)), ref: 'bad' }]);
  });

  it.each(['nope', 'PING', 'Ping', 'join', 'message', '', 'pong '])(
    'answers the unknown type %j with unknown_type',
    async (type) => {
      expect(await answersTo(client, JSON.stringify({ type, ref: 'u' }))).toEqual([{ ...errorOf('unknown_type'), ref: 'u' }]);
    },
  );

  it('handles __proto__, constructor and prototype without a crash or prototype pollution', async () => {
    const roomId = await chat.room('frank', []);
    // The new room is announced to frank's connection; wait for it so it is not taken for an answer.
    await client.next('room_added');
    expect(await answersTo(client, '{"type":"ping","__proto__":{"x":1},"ref":"p"}')).toEqual([{ type: 'pong', ref: 'p' }]);
    for (const type of ['constructor', '__proto__', 'prototype', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(await answersTo(client, JSON.stringify({ type }))).toEqual([errorOf('unknown_type')]);
    }
    const nested = [
      `{"type":"join_room","room_id":"${roomId}","constructor":{"prototype":{"x":1}}}`,
      `{"type":"join_room","room_id":"${roomId}","since":{"seq":0,"epoch":"e","__proto__":{"x":1}}}`,
    ];
    for (const raw of nested) {
      expect(await answersTo(client, raw)).toEqual([expect.objectContaining({ type: 'joined', room_id: roomId })]);
    }
    for (const roomIdValue of ['__proto__', 'constructor', 'prototype', 'toString']) {
      const answers = await answersTo(client, JSON.stringify({ type: 'join_room', room_id: roomIdValue }));
      expect(answers).toEqual([errorOf('invalid_frame', expect.stringContaining('room_id'))]);
    }
    client.socket.send(`{"type":"send_message","room_id":"${roomId}","content":"x","__proto__":{"x":1}}`);
    expect(await client.next('message_ack')).toMatchObject({ message: { content: 'x', seq: 1 } });
    expect(await client.next('message')).toMatchObject({ message: { content: 'x', seq: 1 } });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('x');
    const other = await chat.connect('grace');
    await expectServed(other);
  });

  it.each(['join_room', 'leave_room', 'typing', 'send_message'])(
    'answers a 10 000-character room_id in %s with invalid_frame naming room_id',
    async (type) => {
      const frame = { type, room_id: 'r'.repeat(10_000), content: 'hi' };
      expect(await answersTo(client, JSON.stringify(frame))).toEqual([
        errorOf('invalid_frame', expect.stringContaining('room_id')),
      ]);
    },
  );

  it('accepts a ref of 64 characters and refuses a longer or non-string one with invalid_frame', async () => {
    const ref = 'r'.repeat(64);
    expect(await answersTo(client, JSON.stringify({ type: 'ping', ref }))).toEqual([{ type: 'pong', ref }]);
    for (const bad of ['r'.repeat(65), 'r'.repeat(10_000), 5, { a: 1 }]) {
      const answers = await answersTo(client, JSON.stringify({ type: 'ping', ref: bad }));
      expect(answers).toEqual([errorOf('invalid_frame', expect.stringContaining('ref'))]);
    }
  });

  it('copies ref into pong, joined, left, message_ack, token_refreshed and error', async () => {
    const roomId = await chat.room('frank', []);
    const foreign = await chat.room('grace', []);
    client.send({ type: 'ping', ref: 'r-ping' });
    expect(await client.next('pong')).toEqual({ type: 'pong', ref: 'r-ping' });
    client.send({ type: 'join_room', room_id: roomId, ref: 'r-join' });
    expect(await client.next('joined')).toMatchObject({ room_id: roomId, ref: 'r-join' });
    client.send({ type: 'send_message', room_id: roomId, content: 'hi', client_msg_id: 'c1', ref: 'r-send' });
    expect(await client.next('message_ack')).toMatchObject({ client_msg_id: 'c1', ref: 'r-send' });
    expect(await client.next('message')).not.toHaveProperty('ref');
    client.send({ type: 'leave_room', room_id: roomId, ref: 'r-leave' });
    expect(await client.next('left')).toEqual({ type: 'left', room_id: roomId, ref: 'r-leave' });
    client.send({ type: 'refresh_token', token: token('frank', { expiresInS: 7200 }), ref: 'r-refresh' });
    expect(await client.next('token_refreshed')).toEqual({
      type: 'token_refreshed',
      expires_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      ref: 'r-refresh',
    });
    client.send({ type: 'join_room', room_id: foreign, ref: 'r-member' });
    expect(await client.next('error')).toEqual({ ...errorOf('not_a_member'), room_id: foreign, ref: 'r-member' });
    client.send({ type: 'typing', room_id: roomId, ref: 'r-typing' });
    expect(await client.next('error')).toEqual({ ...errorOf('not_joined'), room_id: roomId, ref: 'r-typing' });
    client.send({ type: 'refresh_token', token: token('mallory'), ref: 'r-bad-refresh' });
    expect(await client.next('error')).toEqual({ ...errorOf('token_invalid'), ref: 'r-bad-refresh' });
  });

  it('keeps serving this client and others after a run of bad frames', async () => {
    const roomId = await chat.room('frank', ['grace']);
    const grace = await chat.connect('grace');
    await join(client, roomId);
    await join(grace, roomId);
    for (const raw of ['x', '[]', '{}', '{"type":"?"}', '{"type":"join_room","room_id":1}']) client.socket.send(raw);
    client.socket.send(Buffer.from('x'), { binary: true });
    client.send({ type: 'send_message', room_id: roomId, content: 'still here' });
    expect(await grace.next('message')).toMatchObject({ message: { content: 'still here', sender_id: 'frank' } });
    await client.next('message');
    expect(client.take('error').map((frame) => frame.code)).toEqual([
      'invalid_json',
      'invalid_frame',
      'invalid_frame',
      'unknown_type',
      'invalid_frame',
      'invalid_frame',
    ]);
    await expectServed(grace);
  });

  it('refuses a since that is not an object, or whose seq is past the safe integers, naming the field', async () => {
    const roomId = await chat.room('alice', []);
    const alice = await chat.connect('alice');
    const asArray = JSON.stringify({ type: 'join_room', room_id: roomId, since: [{ seq: 0, epoch: 'e' }] });
    expect(await answersTo(alice, asArray)).toEqual([
      expect.objectContaining({ type: 'error', code: 'invalid_frame', message: expect.stringMatching(/^since\b(?!\.)/) }),
    ]);
    const huge = `{"type":"join_room","room_id":${JSON.stringify(roomId)},"since":{"seq":1e300,"epoch":"e"}}`;
    expect(await answersTo(alice, huge)).toEqual([
      expect.objectContaining({ type: 'error', code: 'invalid_frame', message: expect.stringMatching(/\bsince\.seq\b/) }),
    ]);
  });
});
