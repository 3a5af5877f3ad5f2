#!/usr/bin/env node
// Size report for the widget build, with budgets.
//
//   node scripts/size-report.mjs [distDir=dist] [--json FILE]
//
// Measures raw, gzip (level 9) and brotli (quality 11) bytes of what a visitor
// downloads: the loader a host page embeds (widget.js), its second half that
// the loader fetches once a panel is needed (widget-frame.js), and every file the
// open panel loads: its index.html and whatever that page references through
// src/href attributes or its inline module script (the JS glue, the .wasm, CSS),
// followed into the glue's own imports and .wasm references and the CSS's
// url()s. Prints a markdown table, checks the budgets below, exits 1 when an
// enforced one is exceeded (2 on a usage or build-layout error), and with --json also writes
// the figures to FILE. No dependencies: node's zlib has gzip and brotli.

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const BUDGETS = [
  // Issue 8's budget for the loader: 3 KB brotli (minified by build-widget.sh),
  // in the 1,024-byte KB of the other budgets.
  { name: 'loader (widget.js), brotli', group: 'loader', limit: 3 * 1024 },
  // Issue 8's budget for everything that opens the panel: 100 KiB brotli.
  // Not met yet (about 155 KiB: Leptos' reactive and view code and our own
  // view code make up most of the wasm), so it is reported (ok: false in the
  // JSON, "over target" in the table) without failing the run...
  { name: 'open panel (loader + panel files), brotli: issue 8 target', group: 'openPanel', limit: 100 * 1024, enforced: false },
  // ...while this one fails it: what issue 8 reached (158,389 B, down from
  // 163,170 B), with a little room, so that the panel cannot grow back
  // unnoticed. Issue 6 had raised it from 150 KiB to 160 KiB.
  { name: 'open panel (loader + panel files), brotli', group: 'openPanel', limit: 157 * 1024 },
  // The agents' inbox (dist/inbox/): its own bundle, never loaded by visitors.
  { name: 'inbox app (dist/inbox), brotli', group: 'inbox', limit: 216 * 1024 },
];

function usage(message) {
  if (message) console.error(`size-report: ${message}`);
  console.error('usage: node scripts/size-report.mjs [distDir=dist] [--json FILE]');
  process.exit(2);
}

function parseArgs(argv) {
  const options = { distDir: 'dist', json: null };
  let positional = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') {
      options.json = argv[++i] ?? usage('--json needs a file name');
    } else if (arg.startsWith('--json=')) {
      options.json = arg.slice('--json='.length);
    } else if (arg === '-h' || arg === '--help') {
      usage();
    } else if (arg.startsWith('-')) {
      usage(`unknown option ${arg}`);
    } else if (positional++ === 0) {
      options.distDir = arg;
    } else {
      usage(`unexpected argument ${arg}`);
    }
  }
  return options;
}

/** raw, gzip -9 and brotli q11 sizes of one file. */
function measure(path) {
  const bytes = readFileSync(path);
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        ...(path.endsWith('.wasm') ? {} : { [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT }),
      },
    }).length,
  };
}

/**
 * Maps a URL found in `fromFile` to a file in dist, or null when it is not
 * ours (another origin, data:, a URL we cannot find). Absolute paths may carry
 * a public-URL prefix (Trunk's --public-url, e.g. /frame/): try the path as it
 * is under dist, then with leading segments dropped.
 */
function resolveReference(url, fromFile, distDir) {
  if (/^(?:[a-z][a-z0-9+.-]*:|\/\/|#)/i.test(url)) return null; // http:, data:, blob:, //host, #id
  const path = decodeURIComponent(url.split(/[?#]/)[0]);
  if (!path) return null;
  const candidates = [];
  if (path.startsWith('/')) {
    const segments = path.split('/').filter(Boolean);
    for (let drop = 0; drop < segments.length; drop++) candidates.push(join(distDir, ...segments.slice(drop)));
  } else {
    candidates.push(resolve(dirname(fromFile), path));
  }
  const inside = (p) => !relative(distDir, p).startsWith('..');
  return candidates.find((p) => inside(p) && existsSync(p) && statSync(p).isFile()) ?? null;
}

/** URLs referenced by a file, by what kind of file it is. */
function referencesOf(path) {
  const text = readFileSync(path, 'utf8');
  const urls = [];
  const collect = (regex) => {
    for (const match of text.matchAll(regex)) urls.push(match[1] ?? match[2] ?? match[3]);
  };
  if (path.endsWith('.html')) {
    const scripts = [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)].map((m) => m[1]);
    const markup = text.replace(/<!--[\s\S]*?-->/g, '').replace(/(<script\b[^>]*>)[\s\S]*?<\/script>/gi, '$1');
    // What the page loads (not what it merely links to): script src, link href
    // (stylesheet, modulepreload, preload, icon), img/source src, and data-*
    // attributes naming files for a boot script (data-js="/frame/x.js"); a
    // data-* value that is not a file in dist is skipped, not reported.
    for (const [, tag, attributes] of markup.matchAll(/<(script|link|img|source)\b([^>]*)>/gi)) {
      const wanted = tag.toLowerCase() === 'link' ? 'href' : 'src';
      for (const [, name, ...values] of attributes.matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))/g)) {
        const value = values.find((v) => v !== undefined);
        const attribute = name.toLowerCase();
        if (attribute === wanted) urls.push(value);
        else if (attribute.startsWith('data-') && /\.(?:m?js|wasm|css)(?:[?#].*)?$/i.test(value)) urls.push(value);
      }
    }
    // Inline module scripts: `import init from '/x.js'` and `init({ module_or_path: '/x_bg.wasm' })`.
    for (const script of scripts) urls.push(...jsReferences(script));
  } else if (/\.m?js$/.test(path)) {
    urls.push(...jsReferences(text));
  } else if (path.endsWith('.css')) {
    collect(/url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]+))\s*\)/gi);
    collect(/@import\s+(?:"([^"]*)"|'([^']*)')/gi);
  }
  return urls.filter(Boolean);
}

/** Module imports and .wasm file names a piece of JavaScript refers to. */
function jsReferences(js) {
  const urls = [];
  for (const m of js.matchAll(/\b(?:import|export)\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g)) urls.push(m[1]);
  for (const m of js.matchAll(/\bimport\s*\(?\s*['"]([^'"]+)['"]/g)) urls.push(m[1]);
  for (const m of js.matchAll(/['"`]([^'"`\s]+\.wasm)['"`]/g)) urls.push(m[1]);
  return urls;
}

/** index.html and everything it loads, transitively, in discovery order. */
function panelFiles(indexHtml, distDir) {
  const seen = new Set([indexHtml]);
  const queue = [indexHtml];
  const missing = [];
  while (queue.length) {
    const file = queue.shift();
    for (const url of referencesOf(file)) {
      const target = resolveReference(url, file, distDir);
      if (target === null) {
        // Strings found in JavaScript are guesses (wasm-bindgen's glue names an
        // unhashed default .wasm it never loads when given one): only HTML and
        // CSS references are reported missing.
        const guessed = /\.m?js$/.test(file);
        if (!guessed && !/^(?:[a-z][a-z0-9+.-]*:|\/\/|#)/i.test(url)) missing.push(`${url} (from ${relative(distDir, file)})`);
        continue;
      }
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return { files: [...seen], missing };
}

function role(path) {
  if (path.endsWith('.html')) return 'panel page';
  if (path.endsWith('.wasm')) return 'panel wasm';
  if (/\.m?js$/.test(path)) return 'panel JS';
  if (path.endsWith('.css')) return 'panel CSS';
  return 'panel asset';
}

const sum = (rows) =>
  rows.reduce((t, r) => ({ raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }), { raw: 0, gzip: 0, brotli: 0 });

const number = (n) => n.toLocaleString('en-US');

function main() {
  const options = parseArgs(process.argv.slice(2));
  const distDir = resolve(options.distDir);
  const loaderPath = join(distDir, 'widget.js');
  const loaderPartPath = join(distDir, 'widget-frame.js');
  const indexPath = [join(distDir, 'index.html'), join(distDir, 'frame', 'index.html')].find((p) => existsSync(p));
  if (!existsSync(loaderPath)) usage(`no loader at ${loaderPath}: build the widget first`);
  if (!existsSync(loaderPartPath)) usage(`no loader part at ${loaderPartPath}: build the widget first`);
  if (!indexPath) usage(`no index.html in ${distDir}: build the widget first`);

  const { files, missing } = panelFiles(indexPath, distDir);
  const name = (p) => relative(distDir, p).split(sep).join('/');
  const loader = [{ file: name(loaderPath), role: 'loader (host page)', ...measure(loaderPath) }];
  const panel = [
    { file: name(loaderPartPath), role: 'loader, second half (fetched for the panel)', ...measure(loaderPartPath) },
    ...files.filter((p) => p !== loaderPath && p !== loaderPartPath).map((p) => ({ file: name(p), role: role(p), ...measure(p) })),
  ];
  if (!panel.some((r) => r.file.endsWith('.wasm'))) {
    console.error(`size-report: warning: found no .wasm referenced from ${name(indexPath)} or its scripts`);
  }
  for (const m of missing) console.error(`size-report: warning: referenced file not in dist: ${m}`);

  const inboxDir = join(distDir, 'inbox');
  const inboxIndex = join(inboxDir, 'index.html');
  if (!existsSync(inboxIndex)) usage(`no inbox at ${inboxIndex}: build it first (scripts/build-widget.sh)`);
  const inbox = panelFiles(inboxIndex, inboxDir).files.map((p) => ({ file: name(p), role: 'inbox ' + role(p).split(' ')[1], ...measure(p) }));

  const totals = { loader: sum(loader), panel: sum(panel), openPanel: sum([...loader, ...panel]), inbox: sum(inbox) };
  const budgets = BUDGETS.map((b) => ({
    ...b,
    enforced: b.enforced ?? true,
    metric: 'brotli',
    unit: 'bytes',
    better: 'lower',
    actual: totals[b.group].brotli,
    ok: totals[b.group].brotli <= b.limit,
  }));

  const lines = [
    `## Widget size (${relative(process.cwd(), distDir) || '.'})`,
    '',
    '| file | role | raw | gzip -9 | brotli 11 |',
    '|---|---|---:|---:|---:|',
    ...[...loader, ...panel].map((r) => `| \`${r.file}\` | ${r.role} | ${number(r.raw)} | ${number(r.gzip)} | ${number(r.brotli)} |`),
    `| **panel files** | | ${number(totals.panel.raw)} | ${number(totals.panel.gzip)} | ${number(totals.panel.brotli)} |`,
    `| **everything to open the panel** | loader + panel files | **${number(totals.openPanel.raw)}** | **${number(totals.openPanel.gzip)}** | **${number(totals.openPanel.brotli)}** |`,
    ...inbox.map((r) => `| \`${r.file}\` | ${r.role} | ${number(r.raw)} | ${number(r.gzip)} | ${number(r.brotli)} |`),
    `| **the inbox** | agents only | ${number(totals.inbox.raw)} | ${number(totals.inbox.gzip)} | ${number(totals.inbox.brotli)} |`,
    '',
    '| budget | brotli bytes | limit | |',
    '|---|---:|---:|---|',
    ...budgets.map((b) => `| ${b.name} | ${number(b.actual)} | ${number(b.limit)} | ${b.ok ? 'ok' : b.enforced ? '**over budget**' : '**over target** (not enforced)'} |`),
  ];
  console.log(lines.join('\n'));

  // Only the enforced budgets decide the exit status (and `ok`).
  const ok = budgets.every((b) => b.ok || !b.enforced);
  if (options.json) {
    const report = { distDir, files: [...loader, ...panel, ...inbox], totals, budgets, ok };
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (!ok) {
    for (const b of budgets.filter((x) => !x.ok && x.enforced)) {
      console.error(`size-report: over budget: ${b.name}: ${b.actual} > ${b.limit} bytes`);
    }
    process.exit(1);
  }
}

main();
