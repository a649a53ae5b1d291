import { displayUrl, scrubText, scrubValue } from './redact.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

describe('redact', () => {
  describe(scrubText.name, () => {
    it.each([
      [`GET /api/v1/chats/ws?token=${JWT}`, 'GET /api/v1/chats/ws?[redacted]'],
      ['ws://127.0.0.1:8000/api/v1/chats/ws?token=opaque-value&x=1 refused', 'ws://127.0.0.1:8000/api/v1/chats/ws?[redacted] refused'],
      ['/rooms/r1/messages?limit=50', '/rooms/r1/messages?[redacted]'],
      ['Authorization: Bearer opaque-value', 'Authorization: Bearer [redacted]'],
      ['protocols access_token, opaque-value offered', 'protocols access_token, [redacted] offered'],
      [`a token ${JWT} inside`, 'a token [redacted] inside'],
      ['body token=opaque-value&b=2', 'body token=[redacted]&b=2'],
      ['redis://user:hunter2@redis:6379/0', 'redis://user:[redacted]@redis:6379/0'],
    ])('%j becomes %j', (text, expected) => {
      expect(scrubText(text)).toBe(expected);
    });

    it('leaves ordinary text alone', () => {
      expect(scrubText('room r1: messages 3..5 could not be recovered')).toBe('room r1: messages 3..5 could not be recovered');
    });
  });

  describe(scrubValue.name, () => {
    it('drops secret fields at any depth, whatever their case, and scrubs strings', () => {
      expect(
        scrubValue({
          req: { url: '/ws?token=abc', headers: { Authorization: 'Bearer abc', 'Sec-WebSocket-Protocol': 'access_token, abc', host: 'h' } },
          token: 'abc',
          list: [{ password: 'p' }, `x ${JWT}`],
        }),
      ).toEqual({
        req: { url: '/ws?[redacted]', headers: { Authorization: '[redacted]', 'Sec-WebSocket-Protocol': '[redacted]', host: 'h' } },
        token: '[redacted]',
        list: [{ password: '[redacted]' }, 'x [redacted]'],
      });
    });
  });

  describe(displayUrl.name, () => {
    it('hides the password and the query', () => {
      expect(displayUrl('redis://:hunter2@redis:6379/0?x=1')).toBe('redis://:***@redis:6379/0');
      expect(displayUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    });
  });
});
