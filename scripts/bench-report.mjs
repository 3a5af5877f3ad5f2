#!/usr/bin/env node
// Combines the parts of one benchmark-suite run into one report.
//
//   node scripts/bench-report.mjs DIR
//
// DIR holds what scripts/bench-suite.sh wrote: size.json + size.md (the widget's
// weight, scripts/size-report.mjs), web.json + web.md (the host page and the
// panel in Chromium, bench/web/run.mjs), server.json + server.md (the server,
// `messenger-bench suite`), and machine.json (what the run was measured on).
// Writes DIR/report.md and DIR/report.json: first every budget of the issue
// with its measured value, then each part's own section. A part that did not
// run is named as missing, never left out silently. Exits 0 when every
// budget is met, 1 when one is missed or a part is missing, 2 on usage errors.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || process.argv.length > 3) {
  console.error('usage: node scripts/bench-report.mjs DIR');
  process.exit(2);
}

const PARTS = [
  { key: 'size', title: 'Weight of the widget' },
  { key: 'web', title: 'Host page and panel in Chromium' },
  { key: 'server', title: 'Server' },
];

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const number = (n) =>
  typeof n !== 'number' || !Number.isFinite(n)
    ? String(n)
    : Number.isInteger(n)
      ? n.toLocaleString('en-US')
      : n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 2 : 1 });

/** The size report's budgets carry {name, metric, actual, limit, ok}: give them the contract's shape. */
function normalise(budget) {
  return {
    name: budget.name,
    actual: budget.actual,
    limit: budget.limit,
    unit: budget.unit ?? (budget.metric === 'brotli' ? 'bytes' : ''),
    better: budget.better ?? 'lower',
    ok: Boolean(budget.ok),
  };
}

const machine = existsSync(join(dir, 'machine.json')) ? readJson(join(dir, 'machine.json')) : {};
const parts = {};
const budgets = [];
const missing = [];
const sections = [];
for (const part of PARTS) {
  const jsonFile = join(dir, `${part.key}.json`);
  const mdFile = join(dir, `${part.key}.md`);
  if (!existsSync(jsonFile)) {
    missing.push(part.key);
    sections.push(`## ${part.title}\n\nNot measured: \`${part.key}.json\` is missing (see the suite's output for why).\n`);
    continue;
  }
  const data = readJson(jsonFile);
  parts[part.key] = data;
  for (const b of data.budgets ?? []) budgets.push({ part: part.key, ...normalise(b) });
  sections.push(existsSync(mdFile) ? readFileSync(mdFile, 'utf8').trim() + '\n' : `## ${part.title}\n\n(no markdown section)\n`);
}

const ok = missing.length === 0 && budgets.length > 0 && budgets.every((b) => b.ok);
const lines = [
  '# Benchmark report',
  '',
  `- when: ${machine.date ?? new Date().toISOString()}`,
  ...(machine.commit ? [`- commit: \`${machine.commit}\``] : []),
  ...(machine.cpu ? [`- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}; ${machine.kernel}`] : []),
  ...(machine.disk ? [`- disk under the temporary files: ${machine.disk}`] : []),
  ...(machine.chromium ? [`- browser: ${machine.chromium}`] : []),
  ...(machine.rustc ? [`- compiler: ${machine.rustc}`] : []),
  `- result: ${ok ? 'every budget met' : `${budgets.filter((b) => !b.ok).length} budget(s) missed${missing.length ? `; parts missing: ${missing.join(', ')}` : ''}`}`,
  '',
  '## Budgets',
  '',
  '| part | budget | measured | limit | |',
  '|---|---|---:|---:|---|',
  ...budgets.map(
    (b) =>
      `| ${b.part} | ${b.name} | ${number(b.actual)} ${b.unit} | ${b.better === 'higher' ? '≥' : '≤'} ${number(b.limit)} ${b.unit} | ${b.ok ? 'met' : '**missed**'} |`,
  ),
  '',
  ...sections,
];
writeFileSync(join(dir, 'report.md'), lines.join('\n'));
writeFileSync(join(dir, 'report.json'), `${JSON.stringify({ machine, ok, missing, budgets, parts }, null, 2)}\n`);
console.log(lines.join('\n'));
console.error(`bench-report: wrote ${join(dir, 'report.md')} and ${join(dir, 'report.json')}`);
process.exit(ok ? 0 : 1);
