// Builds dist/: truflux.min.mjs (ES module) and truflux.min.js (a classic script that sets
// window.truflux, for <script src=...>), both minified (esbuild bundles and mangles the `_x`
// members, terser compresses), and prints their gzipped sizes against the 8 KiB budget.
//   node build.mjs [OUTDIR]
import { build } from 'esbuild';
import { minify } from 'terser';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, 'dist');
// es2021 keeps `||=` as written (every browser with WebCrypto's X25519 has it).
const opts = { minify: true, target: 'es2021', legalComments: 'none', logLevel: 'warning' };
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
// terser over esbuild's output: its compressor (several passes, top-level names inlined,
// function declarations hoisted) saves some 370 octets gzipped of a budget of 8 KiB.
const tersed = async (code, module) => (await minify(code, { ecma: 2020, module,
  toplevel: true, mangle: { reserved: ['truflux'] },
  compress: { passes: 3, top_retain: ['truflux'], unsafe_arrows: true, hoist_funs: true } })).code;
const files = {
  'truflux.min.mjs': await tersed(esm.text, true),
  'truflux.min.js': await tersed(`var truflux=(()=>{${esm.text.slice(0, m.index)}return{${ret}}})();`, false),
};
mkdirSync(out, { recursive: true });
for (const [f, text] of Object.entries(files)) {
  const b = Buffer.from(text);
  writeFileSync(join(out, f), b);
  const gz = gzipSync(b, { level: 9 }).length;
  console.log(`${f}: ${b.length} bytes, ${gz} gzipped${gz > 8192 ? ' (over the budget of 8192)' : ''}`);
}
