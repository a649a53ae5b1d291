// Headless Chromium for the browser suites: Debian's `chromium` when
// installed (.ci/run installs it), else the one inside the `@sparticuz/chromium`
// package, so a fresh clone needs no system package. Never downloads a browser.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** `CHROMIUM_PATH` picks a browser; `CHROMIUM_PATH=packaged` skips the system one. */
export async function launchChromium(): Promise<Browser> {
  const tried: string[] = [];
  const system = process.env.CHROMIUM_PATH === 'packaged' ? [] : [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const candidate of system) {
    if (!candidate || !existsSync(candidate)) continue;
    try {
      return await chromium.launch({ executablePath: candidate, args: FLAGS });
    } catch (error) {
      tried.push(`${candidate}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  try {
    const { default: packaged } = await import('@sparticuz/chromium');
    return await chromium.launch({ executablePath: await packaged.executablePath(), args: FLAGS });
  } catch (error) {
    tried.push(`@sparticuz/chromium: ${(error as Error).message.split('\n')[0]}`);
  }
  throw new Error(`No Chromium could be launched (apt-get install chromium, or npm ci for @sparticuz/chromium):\n  ${tried.join('\n  ')}`);
}
