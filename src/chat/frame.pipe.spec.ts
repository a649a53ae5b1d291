import type { ArgumentMetadata } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsArray, IsDate, IsInt, IsISO8601, IsNotEmpty, IsNotEmptyObject, IsObject, IsOptional, IsString, ValidateNested } from 'class-validator';
import fc from 'fast-check';
import { parseEnvironment } from '../config/environment.js';
import { toSettings } from '../config/settings.js';
import { ChatError } from './chat.error.js';
import { JoinRoomFrame, LeaveRoomFrame, ReadFrame, RefreshTokenFrame, SendMessageFrame, TypingFrame } from './dto/frames.dto.js';
import { FramePipe } from './frame.pipe.js';

const pipeOf = (validator: string) =>
  new FramePipe(toSettings(parseEnvironment({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), FRAME_VALIDATOR: validator })));
const compiled = pipeOf('compiled');
const classValidator = pipeOf('class-validator');

class Inner {
  @IsInt() a!: number;
}

/** A frame a backend developer could add: untyped objects and arrays, and `@Type` to built-in types. */
class ExtensionFrame {
  @IsString() type!: string;
  @IsOptional() @IsObject() meta?: object;
  @IsOptional() @IsNotEmptyObject() filled?: object;
  @IsOptional() @IsArray() list?: unknown[];
  @IsOptional() @Type(() => Date) @IsISO8601() iso?: unknown;
  @IsOptional() @Type(() => Number) @IsNotEmpty() count?: unknown;
  @IsOptional() @Type(() => Date) @IsDate() when?: Date;
}

/** `@Type` with no class (the reflected type decides) and to a Map: left to class-transformer whole. */
class ReflectedTypeFrame {
  @IsString() type!: string;
  @IsOptional() @Type() @IsDate() bare?: Date;
  @IsOptional() @ValidateNested() @Type(() => Inner) byName?: Map<string, Inner>;
}

const DTOS = [JoinRoomFrame, LeaveRoomFrame, TypingFrame, SendMessageFrame, ReadFrame, RefreshTokenFrame, ExtensionFrame, ReflectedTypeFrame];
const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });

/** What a pipe makes of a frame: the instance it hands the handler (its class and fields), or the error's message. */
async function outcome(pipe: FramePipe, raw: string, metatype: ArgumentMetadata['metatype']) {
  try {
    const entity = (await pipe.transform(JSON.parse(raw), body(metatype))) as object;
    return { entity, type: entity.constructor, since: (entity as { since?: object }).since?.constructor };
  } catch (error) {
    // Anything else is a failure the socket answers `internal_error`: it must be the same on both paths.
    if (!(error instanceof ChatError)) return { failed: String(error) };
    return { error: error.code, message: error.message };
  }
}

// Values of every JSON kind, and the edges of the frames' rules.
const anyValue = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('', ' ', 'text', 'image', 'x'.repeat(128), 'x'.repeat(129), '😀'.repeat(65), '\u0000', 'a\uD800b', '\uDC00'),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.integer()), { maxLength: 2 }),
  fc.dictionary(fc.constantFrom('a', 'seq', 'epoch'), fc.oneof(fc.string({ maxLength: 3 }), fc.integer()), { maxKeys: 2 }),
  // Keys named like Object.prototype's members, which class-transformer's copy leaves out, at any depth.
  fc.dictionary(fc.constantFrom('a', 'toString', 'hasOwnProperty', 'valueOf'), fc.oneof(fc.integer(), fc.dictionary(fc.constantFrom('b', 'toString'), fc.integer(), { maxKeys: 2 })), { maxKeys: 2 }),
  fc.constantFrom('2024-01-02', '2024-01-02T03:04:05Z', '5', 'abc'),
);
const id = fc.oneof(fc.uuid(), fc.constantFrom('a', 'msg-1', 'x.y:z_9', 'no spaces'), fc.string({ minLength: 1, maxLength: 8 }));
const field = (valid: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: anyValue, weight: 1 });
const since = field(
  fc.record(
    { seq: field(fc.nat()), epoch: field(id), extra: anyValue },
    { requiredKeys: ['seq', 'epoch'] },
  ),
);
const frame = fc.record(
  {
    type: fc.constantFrom('join_room', 'send_message'),
    room_id: field(id),
    since,
    is_typing: field(fc.boolean()),
    content: field(fc.string({ minLength: 1, maxLength: 20 })),
    message_type: field(fc.constantFrom('text', 'image', 'file', 'system', 'video')),
    attachments: field(fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('', 'x'.repeat(2048), 'x'.repeat(2049)), fc.integer()), { maxLength: 12 })),
    client_msg_id: field(id),
    parent_message_id: field(id),
    token: field(fc.string({ minLength: 1, maxLength: 20 })),
    meta: anyValue,
    filled: anyValue,
    list: field(fc.array(anyValue, { maxLength: 3 })),
    iso: anyValue,
    count: anyValue,
    when: anyValue,
    bare: anyValue,
    byName: anyValue,
    ref: fc.string({ maxLength: 4 }),
    // Unknown fields pass through; class-transformer skips the names of Object's methods.
    extra: anyValue,
    toString: anyValue,
    valueOf: anyValue,
  },
  { requiredKeys: [] },
);

describe(FramePipe.name, () => {
  it('hands the handler the same instance, or answers the same error, with either validator', async () => {
    await fc.assert(
      fc.asyncProperty(frame, fc.constantFrom(...DTOS), async (value, metatype) => {
        const raw = JSON.stringify(value);
        expect(await outcome(compiled, raw, metatype)).toStrictEqual(await outcome(classValidator, raw, metatype));
      }),
      { numRuns: 3000 },
    );
  });

  it('builds the DTO instance of a valid frame itself, and leaves anything else to class-validator', async () => {
    const roomId = '0b6f4a52-5d0e-4b4e-9a39-3c1f0f0e7a11';
    const raw = JSON.stringify({ type: 'join_room', room_id: roomId, since: { seq: 3, epoch: 'e' }, ref: 'x' });
    // A plain value, not a promise: the compiled path does not wait.
    const entity = compiled.transform(JSON.parse(raw), body(JoinRoomFrame));
    expect(entity).toBeInstanceOf(JoinRoomFrame);
    expect(entity).toMatchObject({ room_id: roomId, since: { seq: 3, epoch: 'e' }, ref: 'x' });
    await expect(
      compiled.transform({ type: 'join_room', room_id: 'r', ref: 'x' }, body(JoinRoomFrame)) as Promise<unknown>,
    ).rejects.toThrow(new ChatError('invalid_frame', 'room_id must be a room id (a UUID)'));
    await expect(
      compiled.transform({ type: 'join_room', room_id: roomId, x: '\uD800' }, body(JoinRoomFrame)) as Promise<unknown>,
    ).rejects.toThrow(new ChatError('invalid_frame', 'x must be well-formed Unicode text'));
  });

  it('builds a message with attachments itself: each item is checked without class-validator', async () => {
    const roomId = '0b6f4a52-5d0e-4b4e-9a39-3c1f0f0e7a11';
    const value = { type: 'send_message', room_id: roomId, content: 'look', message_type: 'image', attachments: ['/a.png', '/b.png'] };
    const entity = compiled.transform(value, body(SendMessageFrame));
    expect(entity).toBeInstanceOf(SendMessageFrame);
    expect(entity).toMatchObject({ attachments: ['/a.png', '/b.png'] });
    await expect(compiled.transform({ ...value, attachments: ['/a.png', ''] }, body(SendMessageFrame)) as Promise<unknown>).rejects.toThrow(
      new ChatError('invalid_frame', 'each value in attachments should not be empty'),
    );
  });

  it('passes the socket and other parameters that are not validated through as they are', () => {
    const socket = { readyState: 1 };
    expect(compiled.transform(socket, { type: 'custom', metatype: Object })).toBe(socket);
    expect(compiled.transform(socket, { type: 'body', metatype: Object })).toBe(socket);
  });
});
