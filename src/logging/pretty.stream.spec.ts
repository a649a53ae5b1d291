import { PrettyStream } from './pretty.stream.js';

function render(entry: object): string {
  let written = '';
  new PrettyStream({ write: (text: string) => ((written += text), true) }).write(JSON.stringify(entry));
  return written;
}

describe('PrettyStream', () => {
  it('writes one readable line per entry', () => {
    expect(render({ level: 'info', time: '2026-01-01T09:15:02.114Z', context: 'Chat', msg: 'connection opened', user_id: 'alice', n: 2 })).toBe(
      '09:15:02.114 INFO  [Chat] connection opened user_id=alice n=2\n',
    );
  });

  it('keeps a client-chosen value with a newline on its line, escaped, so it cannot forge another', () => {
    const line = render({ level: 'debug', time: '2026-01-01T09:15:02.114Z', msg: 'opened\nFATAL forged', user_id: 'a\nb\u0000c' });
    expect(line.split('\n')).toEqual(['09:15:02.114 DEBUG opened\\nFATAL forged user_id="a\\nb\\u0000c"', '']);
  });

  it("keeps an error's message on its line too, and the line separators JSON leaves as they are", () => {
    const stack = 'Error: bad room a\nFATAL forged\n    at run (file.js:1:1)';
    const line = render({ level: 'error', time: '2026-01-01T09:15:02.114Z', msg: 'failed', err: { stack }, user_id: 'a\u2028b\u0085' });
    expect(line.split('\n')).toEqual([
      '09:15:02.114 ERROR failed user_id="a\\u2028b\\u0085"',
      'Error: bad room a\\nFATAL forged',
      '    at run (file.js:1:1)',
      '',
    ]);
  });
});
