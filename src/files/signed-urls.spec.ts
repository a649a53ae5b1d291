import { SignedUrls } from './signed-urls.js';

const ROOM = '0b5f9a52-4c1e-4f7a-9d2b-1c3e5a7b9d01';
const OTHER = '7d1e2f30-8a9b-4c5d-8e6f-102132435465';
const FILE = 'c7a1e8d2-3b4c-4d5e-8f60-718293a4b5c6.png';
const BASE = '/api/v1/chats/files/';

describe(SignedUrls.name, () => {
  const urls = new SignedUrls('key', 3600, BASE, ['https://chat.example']);
  const at = (link: string) => ({ room_id: ROOM, attachments: [link] as unknown[] | null });
  const query = (link: string) => new URLSearchParams(link.split('?')[1] ?? '');

  it('stores a link to a file of the message’s own room without its signature, relative or absolute', () => {
    const signed = urls.sign(`rooms/${ROOM}/${FILE}`);
    expect(urls.keep(ROOM, [signed, `https://chat.example${signed}`])).toEqual([
      `${BASE}rooms/${ROOM}/${FILE}`,
      `https://chat.example${BASE}rooms/${ROOM}/${FILE}`,
    ]);
  });

  it('keeps every other link exactly as sent: another room’s file, another site, a name the server never makes', () => {
    const links = [
      urls.sign(`rooms/${OTHER}/${FILE}`),
      `https://elsewhere.example/pic.png?expires=1&signature=${'0'.repeat(64)}`,
      `${BASE}rooms/${ROOM}/../../secret.png`,
      `${BASE}rooms/${ROOM}/${FILE}?expires=1&signature=x&more=1`,
      // This service's path at a host it does not trust: signing it would hand that host a signature.
      `https://elsewhere.example${BASE}rooms/${ROOM}/${FILE}`,
      `https://chat.example.elsewhere.example${BASE}rooms/${ROOM}/${FILE}`,
      'not a url at all',
    ];
    expect(urls.keep(ROOM, links)).toEqual(links);
    expect(urls.present({ room_id: ROOM, attachments: links })).toEqual({ room_id: ROOM, attachments: links });
  });

  it('hands out a stored link, or an old one whose signature expired, signed afresh so that it verifies', () => {
    const path = `rooms/${ROOM}/${FILE}`;
    const expired = urls.sign(path, Date.now() - 2 * 3600_000);
    for (const stored of [`${BASE}${path}`, expired]) {
      const [link] = urls.present(at(stored)).attachments as string[];
      expect(link.split('?')[0]).toBe(`${BASE}${path}`);
      expect(urls.verify(path, query(link).get('expires') ?? undefined, query(link).get('signature') ?? undefined)).toBe(true);
    }
    expect(urls.verify(path, query(expired).get('expires') ?? undefined, query(expired).get('signature') ?? undefined)).toBe(false);
  });

  it('returns the same message when there is nothing to sign', () => {
    const plain = { room_id: ROOM, attachments: null };
    expect(urls.present(plain)).toBe(plain);
    const elsewhere = at('https://elsewhere.example/a.png');
    expect(urls.present(elsewhere)).toBe(elsewhere);
  });
});
