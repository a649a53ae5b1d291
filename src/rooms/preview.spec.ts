import { isWellFormed } from '../core/text.js';
import { PREVIEW_LENGTH, preview } from './rooms.service.js';

describe(preview.name, () => {
  it('keeps content of up to PREVIEW_LENGTH characters as it is', () => {
    const exact = 'x'.repeat(PREVIEW_LENGTH);
    expect(preview(exact)).toBe(exact);
    expect(preview('😀'.repeat(PREVIEW_LENGTH / 2))).toBe('😀'.repeat(PREVIEW_LENGTH / 2));
  });

  it('cuts longer content to at most PREVIEW_LENGTH characters, at a whole emoji sequence, ending with …', () => {
    expect(preview('x'.repeat(150))).toBe(`${'x'.repeat(PREVIEW_LENGTH - 1)}…`);
    const family = '👨‍👩‍👧‍👦'; // 11 code units, one character on screen
    for (const content of [`${'x'.repeat(95)}${family}tail`, '😀'.repeat(150), `${'e\u0301'.repeat(60)}`]) {
      const cut = preview(content);
      expect(cut.length).toBeLessThanOrEqual(PREVIEW_LENGTH);
      expect(cut.endsWith('…')).toBe(true);
      expect(content.startsWith(cut.slice(0, -1))).toBe(true);
      expect(cut).not.toMatch(/\u200d…$/);
      expect(isWellFormed(cut)).toBe(true);
    }
    expect(preview(`${'x'.repeat(95)}${family}tail`)).toBe(`${'x'.repeat(95)}…`);
    expect(preview(`${'e\u0301'.repeat(60)}`)).toBe(`${'e\u0301'.repeat(49)}…`);
  });

  it('cuts a single character longer than the preview between code points, never inside a surrogate pair', () => {
    const piled = `😀${'\u0301'.repeat(200)}`;
    const cut = preview(piled);
    expect(cut.length).toBeLessThanOrEqual(PREVIEW_LENGTH);
    expect(isWellFormed(cut)).toBe(true);
  });
});
