// Builds dist/: truflux.min.mjs (ES module) and truflux.min.js (a classic script that sets
// window.truflux, for <script src=...>), both minified, and prints their gzipped sizes.
//   node build.mjs [OUTDIR]
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, 'dist');
const common = { entryPoints: [join(here, 'src/index.js')], bundle: true, minify: true,
  target: 'es2020', legalComments: 'none', logLevel: 'warning',
  // Internal members (a leading underscore) are private to the bundle: short names.
  mangleProps: /^_/ };
await build({ ...common, format: 'esm', outfile: join(out, 'truflux.min.mjs') });
await build({ ...common, format: 'iife', globalName: 'truflux', outfile: join(out, 'truflux.min.js') });
for (const f of ['truflux.min.mjs', 'truflux.min.js']) {
  const b = readFileSync(join(out, f));
  console.log(`${f}: ${b.length} bytes, ${gzipSync(b, { level: 9 }).length} gzipped`);
}
