#!/usr/bin/env node
// Summarises a Chromium trace written by `run.mjs --trace DIR`: for each
// renderer main thread, the time spent in the main kinds of work (script,
// wasm compilation, style, layout, paint, HTML parsing), counted from the
// events directly under each top-level task, in ms.
//   node bench/web/trace-summary.mjs DIR/cold.json
import { readFileSync } from 'node:fs';

const trace = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const events = trace.traceEvents ?? trace;
const names = new Map();
const threads = new Map();
for (const e of events) {
  if (e.ph === 'M' && e.name === 'process_labels') names.set(e.pid, e.args.labels);
  if (e.ph === 'M' && e.name === 'thread_name') threads.set(`${e.pid}:${e.tid}`, e.args.name);
}
const main = [...threads].filter(([, n]) => n === 'CrRendererMain').map(([k]) => k);
const KINDS = [
  [/^(v8\.compile|v8\.compileModule|v8\.produceModuleCache|CompileScript|v8\.parseOnBackground)/, 'compile JS'],
  [/wasm/i, 'wasm'],
  [/^(FunctionCall|EvaluateScript|v8\.callFunction|v8\.run|RunMicrotasks|TimerFire|FireAnimationFrame|EventDispatch|v8\.evaluateModule|V8\.GC.*|MajorGC|MinorGC)/, 'script'],
  [/^(UpdateLayoutTree|RecalculateStyles|ParseAuthorStyleSheet)/, 'style'],
  [/^Layout$/, 'layout'],
  [/^(Paint|PaintImage|UpdateLayer|UpdateLayerTree|PrePaint|Layerize|Commit|RasterTask)/, 'paint'],
  [/^ParseHTML$/, 'parse HTML'],
];
for (const key of main) {
  const [pid, tid] = key.split(':').map(Number);
  const mine = events.filter((e) => e.pid === pid && e.tid === tid && e.ph === 'X' && e.dur);
  const tasks = mine.filter((e) => e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask');
  const busy = tasks.reduce((s, e) => s + e.dur, 0) / 1000;
  const totals = {};
  for (const e of mine) {
    const kind = KINDS.find(([re]) => re.test(e.name))?.[1];
    if (!kind) continue;
    // Only outermost events of a kind (an event inside one of the same kind is not counted twice).
    totals[kind] = (totals[kind] ?? []).concat([[e.ts, e.ts + e.dur]]);
  }
  const summary = Object.fromEntries(
    Object.entries(totals).map(([k, spans]) => {
      spans.sort((a, b) => a[0] - b[0]);
      let sum = 0, end = -Infinity;
      for (const [s, t] of spans) {
        if (t <= end) continue;
        sum += t - Math.max(s, end);
        end = t;
      }
      return [k, Math.round(sum / 100) / 10];
    }),
  );
  const urls = new Set(events.filter((e) => e.pid === pid && e.args?.data?.url).map((e) => e.args.data.url.replace(/\?.*/, '')));
  console.log(`renderer ${pid} ${names.get(pid) ?? ''}: busy ${busy.toFixed(1)} ms in tasks`, JSON.stringify(summary));
  console.log('   urls:', [...urls].slice(0, 6).join(' '));
}
