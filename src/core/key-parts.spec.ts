import fc from 'fast-check';
import { composeKey, decodeKeyPart, keyPart } from './key-parts.js';

const part = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', ':', '{', '}', '%', '%3A', '%uD800', '\ud800', '\udc00', '\n', 'a:b', 'a%3Ab'),
);

describe('composeKey', () => {
  it('never maps two different lists of parts to one key', () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 3 }), fc.array(part, { minLength: 1, maxLength: 3 }), (a, b) => {
        if (a.length === b.length && a.every((x, i) => x === b[i])) return;
        expect(composeKey(...a)).not.toBe(composeKey(...b));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes parts that hold no separator, no hash-tag brace and no lone surrogate, and decode back', () => {
    fc.assert(
      fc.property(part, (value) => {
        const encoded = keyPart(value);
        expect(encoded).not.toMatch(/[:{}\s]/);
        expect(encoded).toMatch(/^[\x21-\x7e]*$/);
        expect(decodeKeyPart(encoded)).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });
});
