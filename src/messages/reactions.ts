import { MAX_EMOJI_LENGTH, MAX_REACTIONS_PER_MESSAGE } from '../core/message.js';

/** One emoji on a message and who put it there, in the order they reacted (PROTOCOL §5, FocusMate's shape). */
export interface Reaction {
  emoji: string;
  users: string[];
  count: number;
}

/**
 * An emoji as a reaction: a run of Unicode emoji code points (pictographs,
 * their components such as skin tones, regional indicators and keycaps,
 * joined by ZWJ and variation selectors) that is not plain ASCII, or a
 * shortcode such as `:thumbsup:` (`a–z 0–9 _ + -` between colons).
 */
const EMOJI_CODE_POINTS = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0e|\ufe0f|\u20e3)+$/u;
const SHORTCODE = /^:[a-z0-9_+-]{1,30}:$/;
/**
 * What shows: a pictograph, a flag letter, a skin tone or hair swatch, a
 * keycap. Joiners, variation selectors and tags alone show nothing, and
 * digits, `#` and `*` alone are plain text: neither is a reaction.
 */
const VISIBLE = /\p{Extended_Pictographic}|\p{Regional_Indicator}|[\u{1F3FB}-\u{1F3FF}\u{1F9B0}-\u{1F9B3}]|\u20e3/u;

export function isEmoji(value: string): boolean {
  if (value.length > MAX_EMOJI_LENGTH) return false;
  return SHORTCODE.test(value) || (EMOJI_CODE_POINTS.test(value) && VISIBLE.test(value));
}

/** The reactions of a stored message, keeping only entries of the right shape. */
export function readReactions(reactions: unknown[]): Reaction[] {
  return reactions.flatMap((entry) => {
    const r = entry as Partial<Reaction> | null;
    if (!r || typeof r.emoji !== 'string' || !Array.isArray(r.users)) return [];
    const users = r.users.filter((u): u is string => typeof u === 'string');
    return users.length === 0 ? [] : [{ emoji: r.emoji, users, count: users.length }];
  });
}

/**
 * The reactions with `userId`'s `emoji` added or taken away; undefined when
 * that changes nothing (added twice, removed when absent). Too many distinct
 * emoji answers 'full'.
 */
export function react(
  current: Reaction[],
  emoji: string,
  userId: string,
  add: boolean,
): Reaction[] | 'full' | undefined {
  const at = current.findIndex((r) => r.emoji === emoji);
  const existing = at < 0 ? undefined : current[at];
  if (add) {
    if (existing?.users.includes(userId)) return undefined;
    if (!existing) {
      if (current.length >= MAX_REACTIONS_PER_MESSAGE) return 'full';
      return [...current, { emoji, users: [userId], count: 1 }];
    }
    const users = [...existing.users, userId];
    return current.map((r, i) => (i === at ? { emoji, users, count: users.length } : r));
  }
  if (!existing?.users.includes(userId)) return undefined;
  const users = existing.users.filter((u) => u !== userId);
  return users.length === 0
    ? current.filter((_, i) => i !== at)
    : current.map((r, i) => (i === at ? { emoji, users, count: users.length } : r));
}
