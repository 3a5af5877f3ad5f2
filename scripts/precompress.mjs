#!/usr/bin/env node
// Writes FILE.br (brotli, quality 11) and FILE.gz (gzip -9) next to every
// text or wasm file of a built widget folder (and its subfolders), once per
// build, so that the server sends the smallest encoding without compressing
// on each request (it serves FILE.br / FILE.gz when the browser accepts them,
// see server/src/assets.rs). Files under 1 KB, or that do not shrink, get none.
//
//   node scripts/precompress.mjs dist
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const root = process.argv[2];
if (!root) {
  console.error('usage: node scripts/precompress.mjs DIR');
  process.exit(2);
}
const COMPRESSIBLE = /\.(js|mjs|wasm|css|html|svg|json|txt|map)$/;
let files = 0;
let before = 0;
let after = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      walk(path);
      continue;
    }
    if (!COMPRESSIBLE.test(name)) continue;
    const data = readFileSync(path);
    for (const [ext, encode] of [
      [
        '.br',
        (b) =>
          brotliCompressSync(b, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: 11,
              [constants.BROTLI_PARAM_SIZE_HINT]: b.length,
              ...(name.endsWith('.wasm') ? {} : { [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT }),
            },
          }),
      ],
      ['.gz', (b) => gzipSync(b, { level: 9 })],
    ]) {
      const target = path + ext;
      const encoded = data.length >= 1024 ? encode(data) : null;
      if (encoded && encoded.length < data.length) writeFileSync(target, encoded);
      else {
        try {
          unlinkSync(target); // a stale one from an earlier build
        } catch {}
      }
      if (ext === '.br' && encoded) {
        files += 1;
        before += data.length;
        after += Math.min(encoded.length, data.length);
      }
    }
  }
}
walk(root);
console.log(`precompress: ${files} files in ${root}, ${before} B -> ${after} B brotli`);
