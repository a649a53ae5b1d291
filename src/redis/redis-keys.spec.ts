import { RedisKeys } from './redis-keys.js';

describe(RedisKeys.name, () => {
  const keys = new RedisKeys('p:');

  it("puts a room's sharded channel in the slot of its keys (same hash tag)", () => {
    const tag = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];
    for (const room of ['r1', 'a:b{c}', 'x y', '\u{1F600}']) {
      expect(tag(keys.events(room))).toBe(tag(keys.room(room, 'meta')));
    }
  });

  it('reads the room back from a sharded channel, and nothing from another channel', () => {
    for (const room of ['r1', 'a:b{c}', 'x y', '}:events']) expect(keys.roomOfEvents(keys.events(room))).toBe(room);
    expect(keys.roomOfEvents(keys.channel('r1'))).toBeUndefined();
    expect(keys.roomOfEvents('q:chat:{r1}:events')).toBeUndefined();
    expect(keys.roomOfEvents('p:chat:{%E0%A4%A}:events')).toBeUndefined();
  });
});
