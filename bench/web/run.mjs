#!/usr/bin/env node
// The web part of the benchmark suite (see README "Benchmarks"):
//
//   npm ci --prefix bench/web
//   node bench/web/run.mjs --json FILE --md FILE [--runs 5] [--panel-runs 7]
//        [--server-bin target/release/messenger-server] [--assets dist]
//
// In one run, on this machine: starts the release server on a temporary
// SQLite file (one site, one seeded conversation), serves the reference host
// page (host/article.html) without a widget, with ours and with the other
// widgets whose built embed is on npm, and measures
//   1. what each widget makes the page download at start (raw/gzip/brotli);
//   2. Lighthouse (mobile preset, simulated throttling), `--runs` runs per
//      variant, interleaved: performance score, TBT, LCP, FCP, TTI, CLS;
//   3. click to history: from the click on the launcher to the panel showing
//      the last 50 messages, cold and warm (lib/panel.mjs).
// Writes the figures and the budgets (contract: top-level "budgets") as JSON,
// and a markdown section. Exits 0 when it measured, budgets missed or not.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { lighthouseRun, CHROMIUM } from './lib/lighthouse.mjs';
import { clickToHistory } from './lib/panel.mjs';
import { Messenger, staticServer, fileUnder } from './lib/servers.mjs';
import { weighWidget } from './lib/weight.mjs';
import { markdown } from './lib/report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(REPO, 'target');

const { values: opts } = parseArgs({
  options: {
    json: { type: 'string' },
    md: { type: 'string' },
    runs: { type: 'string', default: '5' },
    'panel-runs': { type: 'string', default: '7' },
    'server-bin': { type: 'string', default: join(TARGET, 'release/messenger-server') },
    assets: { type: 'string', default: join(REPO, 'dist') },
    messages: { type: 'string', default: '60' },
    only: { type: 'string' },
    trace: { type: 'string' }, // a folder: Chromium traces of the first cold and reopen runs // comma list of parts: weight,lighthouse,panel (for development)
  },
});
const RUNS = Number(opts.runs);
const PANEL_RUNS = Number(opts['panel-runs']);
const MESSAGES = Number(opts.messages);
const SHOWN = 50; // the panel's first page: the last 50 messages
const parts = new Set((opts.only ?? 'weight,lighthouse,panel').split(','));
const log = (...a) => console.error(...a);

function fail(message) {
  console.error(`bench/web: ${message}`);
  process.exit(2);
}
for (const [what, path] of [
  ['Chromium', CHROMIUM],
  ['server binary (cargo build --release -p messenger-server, or --server-bin)', opts['server-bin']],
  ['widget build (scripts/build-widget.sh, or --assets)', join(opts.assets, 'widget.js')],
]) {
  if (!existsSync(path)) fail(`${what} missing at ${path}`);
}
if (!Number.isInteger(RUNS) || RUNS < 1) fail('--runs must be a positive integer');
if (MESSAGES < SHOWN) fail(`--messages must be at least ${SHOWN}`);

const ARTICLE = readFileSync(join(HERE, 'host/article.html'), 'utf8');
const IMAGE = join(HERE, 'host/harbour.jpg');
const ROCKET_BUILD = join(HERE, 'node_modules/@rocket.chat/livechat/build');
const ROCKET_VERSION = existsSync(ROCKET_BUILD)
  ? JSON.parse(readFileSync(join(ROCKET_BUILD, '../package.json'), 'utf8')).version
  : null;
const STUB = 'window.Messenger=window.Messenger||function(){(Messenger.q=Messenger.q||[]).push(arguments)};';

const started = new Date();
const load = { before: loadavg() };
log(`bench/web: ${cpus().length} CPUs, load average ${load.before.map((x) => x.toFixed(2)).join(' ')}`);

const messenger = await Messenger.start({ bin: resolve(opts['server-bin']), assets: resolve(opts.assets) });
const cleanups = [() => messenger.stop()];
const cleanup = async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  const siteKey = await messenger.createSite();
  log(`server ${messenger.origin}, site ${siteKey}`);

  // The other widgets' servers: their files only (see lib/servers.mjs).
  const rocket = ROCKET_VERSION
    ? await staticServer(
        async (path) => {
          if (path === '/livechat' || path === '/livechat/') return { file: join(ROCKET_BUILD, 'index.html') };
          if (path.startsWith('/livechat/')) {
            const file = await fileUnder(ROCKET_BUILD, path.slice('/livechat/'.length));
            return file && { file, cache: 'public, max-age=31536000' };
          }
          return null;
        },
        { origin: '127.0.0.1' },
      )
    : null;
  if (rocket) cleanups.push(() => rocket.close());

  const embeds = {
    none: '',
    messenger: `<script>${STUB}</script>\n<script src="${messenger.origin}/widget.js" async data-site="${siteKey}"></script>`,
  };
  if (rocket) {
    // Rocket.Chat's documented embed snippet, pointing at the static stand-in.
    embeds.rocketchat = `<script type="text/javascript">
(function(w, d, s, u) {
  w.RocketChat = function(c) { w.RocketChat._.push(c) }; w.RocketChat._ = []; w.RocketChat.url = u;
  var h = d.getElementsByTagName(s)[0], j = d.createElement(s);
  j.async = true; j.src = '${rocket.origin}/livechat/rocketchat-livechat.min.js?_=201903270000';
  h.parentNode.insertBefore(j, h);
})(window, document, 'script', '${rocket.origin}/livechat');
</script>`;
  }
  const host = await staticServer(async (path) => {
    if (path === '/blank') return { body: Buffer.from('<!doctype html><title>blank</title>'), type: 'text/html; charset=utf-8' };
    const match = /^\/(\w+)\/(harbour\.jpg)?$/.exec(path);
    if (!match || !(match[1] in embeds)) return null;
    if (match[2]) return { file: IMAGE };
    return { body: Buffer.from(ARTICLE.replace('<!--EMBED-->', embeds[match[1]])), type: 'text/html; charset=utf-8' };
  });
  cleanups.push(() => host.close());
  const url = (variant) => `${host.origin}/${variant}/`;
  log(`host ${host.origin}${rocket ? `, Rocket.Chat livechat ${ROCKET_VERSION} at ${rocket.origin}` : ''}`);

  const result = {
    started_at: started.toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, load_average_before: load.before },
    chromium: CHROMIUM,
    server: { origin: messenger.origin, bin: opts['server-bin'], assets: opts.assets },
    host_page: 'bench/web/host/article.html',
    variants: Object.keys(embeds),
  };

  // 1. Weight of what each widget makes the host page download.
  if (parts.has('weight')) {
    log('weight…');
    result.weight = {
      messenger: await weighWidget({
        url: url('messenger'),
        hostOrigin: host.origin,
        // Open the panel (first visit: an empty conversation) and weigh what it adds.
        open: async (page) => {
          await page.locator('messenger-widget [data-testid=launcher]').click();
          const frame = page.frameLocator('messenger-widget iframe');
          await frame.locator('[data-testid=composer-input]').waitFor({ timeout: 20_000 });
        },
      }),
    };
    if (rocket) result.weight.rocketchat = await weighWidget({ url: url('rocketchat'), hostOrigin: host.origin });
    for (const [name, w] of Object.entries(result.weight)) {
      log(`  ${name}: start ${JSON.stringify(w.start.total)}${w.open ? `, open ${JSON.stringify(w.open.total)}` : ''}`);
    }
  }

  // 2. Lighthouse, interleaved: none, messenger, rocketchat, none, …
  if (parts.has('lighthouse')) {
    const runs = Object.fromEntries(Object.keys(embeds).map((v) => [v, []]));
    for (let i = 0; i < RUNS; i += 1) {
      for (const variant of Object.keys(embeds)) {
        const r = await lighthouseRun(url(variant));
        runs[variant].push(r);
        log(`lighthouse ${variant} ${i + 1}/${RUNS}: score ${r.score}, TBT ${r.tbt_ms?.toFixed(0)} ms, LCP ${r.lcp_ms?.toFixed(0)} ms, TTI ${r.tti_ms?.toFixed(0)} ms, CLS ${r.cls?.toFixed(3)}`);
      }
    }
    result.lighthouse = summarizeLighthouse(runs);
  }

  // 3. Click to history.
  if (parts.has('panel')) {
    log('click to history: seeding…');
    const seeded = await messenger.seedConversation({ count: MESSAGES, pageUrl: url('messenger') });
    result.click_to_history = {
      messages_in_conversation: MESSAGES,
      messages_shown: SHOWN,
      ...(await clickToHistory({
        server: messenger.origin,
        host: host.origin,
        pageUrl: url('messenger'),
        blankUrl: `${host.origin}/blank`,
        token: seeded.token,
        seq: seeded.seq,
        count: SHOWN,
        lastBody: seeded.lastBody,
        runs: PANEL_RUNS,
        log,
        trace: opts.trace && resolve(opts.trace),
      })),
    };
  }

  result.machine.load_average_after = loadavg();
  result.finished_at = new Date().toISOString();
  result.budgets = budgets(result);
  result.published = published();
  result.rocketchat_version = ROCKET_VERSION;

  const md = markdown(result);
  if (opts.json) {
    await mkdir(dirname(resolve(opts.json)), { recursive: true });
    await writeFile(opts.json, JSON.stringify(result, null, 2) + '\n');
  }
  if (opts.md) {
    await mkdir(dirname(resolve(opts.md)), { recursive: true });
    await writeFile(opts.md, md);
  }
  if (!opts.json && !opts.md) process.stdout.write(md);
  for (const b of result.budgets) log(`${b.ok ? 'ok  ' : 'MISS'} ${b.name}: ${b.actual} ${b.unit} (limit ${b.limit})`);
} catch (error) {
  console.error(error);
  console.error(`server log:\n${messenger.log.slice(-30).join('\n')}`);
  await cleanup();
  process.exit(1);
}
await cleanup();

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarizeLighthouse(runs) {
  const metrics = ['score', 'tbt_ms', 'lcp_ms', 'fcp_ms', 'tti_ms', 'si_ms', 'cls', 'mainthread_ms', 'bootup_ms', 'total_bytes', 'requests'];
  const first = Object.values(runs)[0][0];
  const out = {
    preset: `${first.form_factor} (Lighthouse default), throttling: ${first.throttling_method}`,
    lighthouse_version: first.lighthouse_version,
    user_agent: first.user_agent,
    runs_per_variant: Object.values(runs)[0].length,
    order: 'interleaved: one run of each variant in turn',
    medians: {},
    min: {},
    max: {},
    runs,
  };
  for (const [variant, rs] of Object.entries(runs)) {
    out.medians[variant] = Object.fromEntries(metrics.map((m) => [m, median(rs.map((r) => r[m]))]));
    out.min[variant] = Object.fromEntries(metrics.map((m) => [m, Math.min(...rs.map((r) => r[m]))]));
    out.max[variant] = Object.fromEntries(metrics.map((m) => [m, Math.max(...rs.map((r) => r[m]))]));
  }
  return out;
}

function budget(name, actual, limit, unit, better) {
  const ok = actual !== null && actual !== undefined && (better === 'lower' ? actual <= limit : actual >= limit);
  return { name, actual: actual === null || actual === undefined ? null : Math.round(actual * 10) / 10, limit, unit, better, ok };
}

function budgets(result) {
  const b = [];
  const lh = result.lighthouse;
  if (lh) {
    const none = lh.medians.none;
    const ours = lh.medians.messenger;
    b.push(budget('Lighthouse performance score with the widget (median; limit: without - 1)', ours.score, none.score - 1, 'points', 'higher'));
    b.push(budget('Lighthouse Total Blocking Time added by the widget (median with - median without)', ours.tbt_ms - none.tbt_ms, 20, 'ms', 'lower'));
  }
  const ch = result.click_to_history;
  if (ch) {
    // Cold: nothing of the panel loaded. Warm (the issue's sense: the panel
    // already loaded): the returning visitor's panel loaded in the background,
    // and a reopen. A reload with a warm HTTP cache still loads the panel
    // after the click: held to the cold limit.
    b.push(budget('click to history, cold: nothing cached or preloaded (median)', ch.scenarios.cold.median_ms, 300, 'ms', 'lower'));
    b.push(budget('click to history, reload with a warm HTTP cache, nothing preloaded (median; cold limit)', ch.scenarios.warm_reload.median_ms, 300, 'ms', 'lower'));
    b.push(budget('click to history, warm: returning visitor, panel loaded in the background (median)', ch.scenarios.returning_idle.median_ms, 50, 'ms', 'lower'));
    b.push(budget('click to history, warm: reopened in the same page view (median)', ch.scenarios.reopen.median_ms, 50, 'ms', 'lower'));
  }
  return b;
}

/** Figures published by the widgets' makers or by others: not measured here. */
function published() {
  return [
  { widget: 'Intercom', figure: 'about 344 KB of JavaScript', source: 'issue 8 (published, not measured here)', why_not_measured: 'its npm package (@intercom/messenger-js-sdk) is a loader that fetches the widget from widget.intercom.io' },
  { widget: 'Rocket.Chat livechat', figure: 'about 374 KB brotli as soon as the page loads', source: 'issue 8 (published, not measured here)', why_not_measured: 'measured here as well (tables above: npm @rocket.chat/livechat, its latest published build)' },
  { widget: 'Papercups', figure: 'at least 103 KB', source: 'issue 8 (published, not measured here)', why_not_measured: 'npm @papercups-io/chat-widget is a React component whose panel is an iframe from chat-widget.papercups.io; the built widget is not published' },
  { widget: 'Chatwoot', figure: 'about 170 KB', source: 'issue 8 (published, not measured here)', why_not_measured: 'no built widget on npm; its SDK is served by each Chatwoot server' },
  { widget: 'Crisp', figure: 'about 130 KB compressed, by its own account', source: 'issue 8 (published, not measured here)', why_not_measured: 'npm crisp-sdk-web only injects client.crisp.chat/l.js' },
  { widget: 'any chat widget', figure: 'Lighthouse scores dropping by 35 points, about a second of added blocking time', source: 'issue 8 (reports; published, not measured here)', why_not_measured: '' },
];
}
