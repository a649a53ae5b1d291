import { MAX_REACTIONS_PER_MESSAGE } from '../core/message.js';
import { isEmoji, react, readReactions } from './reactions.js';

describe('reactions', () => {
  it('accepts emoji sequences and shortcodes, and refuses text, markup and long runs', () => {
    for (const ok of ['👍', '👍🏽', '❤️', '👨‍👩‍👧‍👦', '🇫🇷', '1️⃣', ':thumbsup:', ':+1:']) expect(isEmoji(ok)).toBe(true);
    for (const bad of ['', 'a', '123', '#', '<script>', ':Nope:', '::', '👍 ', 'a👍', '😀'.repeat(17)]) expect(isEmoji(bad)).toBe(false);
    // What shows nothing on its own: joiners, variation selectors, tags.
    for (const invisible of ['\u200d', '\ufe0f', '\u200d\ufe0f\u200d', '\u{E0041}\u{E007F}']) expect(isEmoji(invisible)).toBe(false);
  });

  it('adds a user once, removes them, and drops an emoji nobody has any more', () => {
    const one = react([], '👍', 'bob', true);
    expect(one).toEqual([{ emoji: '👍', users: ['bob'], count: 1 }]);
    expect(react(one as never, '👍', 'bob', true)).toBeUndefined();
    const two = react(one as never, '👍', 'alice', true);
    expect(two).toEqual([{ emoji: '👍', users: ['bob', 'alice'], count: 2 }]);
    expect(react(two as never, '👍', 'bob', false)).toEqual([{ emoji: '👍', users: ['alice'], count: 1 }]);
    expect(react(one as never, '👍', 'bob', false)).toEqual([]);
    expect(react(one as never, '🎉', 'bob', false)).toBeUndefined();
  });

  it(`refuses a new emoji past ${MAX_REACTIONS_PER_MESSAGE} distinct ones, but not another user on an existing one`, () => {
    const full = Array.from({ length: MAX_REACTIONS_PER_MESSAGE }, (_, i) => ({ emoji: String.fromCodePoint(0x1f600 + i), users: ['a'], count: 1 }));
    expect(react(full, '🚀', 'b', true)).toBe('full');
    expect(react(full, full[0].emoji, 'b', true)).not.toBe('full');
  });

  it('reads back only well-shaped entries, with counts from the users', () => {
    expect(readReactions([null, 3, { emoji: '👍' }, { emoji: '👍', users: ['a', 7, 'b'], count: 99 }, { emoji: '🎉', users: [] }])).toEqual([
      { emoji: '👍', users: ['a', 'b'], count: 2 },
    ]);
  });
});
