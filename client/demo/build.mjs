// Bundles the demo page (client/demo/app.ts and the library) with esbuild into
// client/demo/build/, which the service serves at /demo. Run by `npm run build`
// and before `npm start`; `node client/demo/build.mjs`.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export async function buildDemo() {
  mkdirSync(here('./build'), { recursive: true });
  await build({
    entryPoints: [here('./app.ts')],
    outfile: here('./build/app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'styles.css']) copyFileSync(here(`./${file}`), here(`./build/${file}`));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDemo();
