// Builds dist/: truflux.min.mjs (ES module) and truflux.min.js (a classic script that sets
// window.truflux, for <script src=...>), both minified, and prints their gzipped sizes.
//   node build.mjs [OUTDIR]
import { build, transform } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, 'dist');
const opts = { minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning' };
const { outputFiles: [esm] } = await build({ ...opts, entryPoints: [join(here, 'src/index.js')],
  bundle: true, format: 'esm', write: false, outfile: 'truflux.min.mjs',
  // Internal members (a leading underscore) are private to the bundle: short names.
  mangleProps: /^_/ });
// The classic script is the module's code in a function that returns its exports: esbuild's
// own iife format adds a getter per export and the helpers behind them (~200 octets gzipped
// of a budget of 8 KiB).
const m = /export\s*\{([^}]*)\};?\s*$/.exec(esm.text);
if (!m) throw new Error('build.mjs: no export list at the end of the module');
const ret = m[1].split(',').map((e) => e.trim().split(/\s+as\s+/)).map(([l, n]) => `${n ?? l}:${l}`);
// A second minifying pass over each names the variables again, a little more compactly
// (some 25 octets gzipped); a third gains nothing.
const files = {
  'truflux.min.mjs': (await transform(esm.text, { ...opts, format: 'esm' })).code,
  'truflux.min.js': (await transform(`var truflux=(()=>{${esm.text.slice(0, m.index)}return{${ret}}})();`, opts)).code,
};
mkdirSync(out, { recursive: true });
for (const [f, text] of Object.entries(files)) {
  const b = Buffer.from(text);
  writeFileSync(join(out, f), b);
  console.log(`${f}: ${b.length} bytes, ${gzipSync(b, { level: 9 }).length} gzipped`);
}
