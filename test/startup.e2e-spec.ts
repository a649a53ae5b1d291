import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, runUntilExit } from './support/spawned.js';

describe('a start that cannot succeed (README, "Settings")', () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'chat-startup-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const expectOneLine = (result: { status: number | null; output: string }, setting: string) => {
    expect(result.status).toBe(1);
    const lines = result.output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(setting);
    return lines[0];
  };

  it.each(['redis://:hunter2pass@127.0.0.1:99999', 'redis://:hunter2pass@host:port', 'redis://:hunter2%zz@127.0.0.1:6379'])(
    'refuses REDIS_URL=%s in one line naming it, without its password',
    (url) => {
      const line = expectOneLine(runUntilExit({ REDIS_URL: url }), 'REDIS_URL');
      expect(line).not.toContain('hunter2');
    },
  );

  it('refuses an UPLOAD_DIR it cannot use in one line naming it, not a stack trace', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(expectOneLine(runUntilExit({ UPLOAD_DIR: join(file, 'uploads') }), 'UPLOAD_DIR')).toContain('ENOTDIR');
  });

  it('names the setting whose port is taken: METRICS_PORT, or PORT (after Nest\'s own log line)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    try {
      expect(expectOneLine(runUntilExit({ METRICS_PORT: port }), 'METRICS_PORT')).toContain('EADDRINUSE');
      const result = runUntilExit({ PORT: port });
      expect(result.status).toBe(1);
      expect(result.output.trim().split('\n').at(-1)).toMatch(new RegExp(`^PORT ${port}: .*EADDRINUSE`));
    } finally {
      taken.close();
    }
  });

  it('refuses a JWT_PREVIOUS_SECRET_UNTIL that names no real time, rather than accept the previous secret for ever', () => {
    const result = runUntilExit({ JWT_PREVIOUS_SECRET: 'previous-secret-0123456789', JWT_PREVIOUS_SECRET_UNTIL: '2020-01-01T00:00:00+25:00' });
    expect(expectOneLine(result, 'JWT_PREVIOUS_SECRET_UNTIL')).not.toContain('previous-secret');
  });
});
