// The markdown section of the web benchmark's report.

const NAMES = { none: 'without a widget', messenger: 'with our widget', rocketchat: 'with Rocket.Chat livechat' };
const kb = (bytes) => (bytes === null || bytes === undefined ? '–' : `${(bytes / 1024).toFixed(1)} KB`);
const ms = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${Math.round(x)} ms`);
const num = (x, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

export function markdown(r) {
  const out = [];
  out.push('## Web: weight, host-page impact and time to a usable panel', '');
  out.push(
    `Measured ${r.started_at} on this machine (${r.machine.cpus} CPUs, ${r.machine.cpu_model ?? 'unknown CPU'}; ` +
      `load average ${r.machine.load_average_before.map((x) => x.toFixed(2)).join(' ')} before, ` +
      `${(r.machine.load_average_after ?? []).map((x) => x.toFixed(2)).join(' ')} after), ` +
      `headless Chromium (${r.chromium}), the release server on a temporary SQLite file, ` +
      `the reference host page \`${r.host_page}\` on another site (localhost vs 127.0.0.1).`,
    '',
  );

  out.push('### Budgets', '', '| budget | actual | limit | |', '|---|---:|---:|---|');
  for (const b of r.budgets) out.push(`| ${b.name} | ${b.actual ?? '–'} ${b.unit} | ${b.limit} ${b.unit} | ${b.ok ? 'ok' : '**missed**'} |`);
  out.push('');

  if (r.weight) {
    out.push(
      '### What the host page downloads (measured here)',
      '',
      'Every response from another origin than the host page, in a fresh browser context, from navigation until the network is quiet for 500 ms; ' +
        'each file weighed decoded (raw) and compressed here with gzip -9 and brotli 11, whatever its server sent.',
      '',
      '| widget | when | files | raw | gzip | brotli |',
      '|---|---|---:|---:|---:|---:|',
    );
    for (const [name, w] of Object.entries(r.weight)) {
      const label = name === 'rocketchat' ? `Rocket.Chat livechat ${r.rocketchat_version} (npm)` : 'ours';
      out.push(`| ${label} | page load | ${w.start.total.files} | ${kb(w.start.total.raw)} | ${kb(w.start.total.gzip)} | ${kb(w.start.total.brotli)} |`);
      if (w.open) out.push(`| ${label} | + opening the panel | ${w.open.total.files} | ${kb(w.open.total.raw)} | ${kb(w.open.total.gzip)} | ${kb(w.open.total.brotli)} |`);
    }
    out.push('');
    for (const [name, w] of Object.entries(r.weight)) {
      out.push(`<details><summary>${name}: files</summary>`, '', '| when | file | status | raw | brotli |', '|---|---|---:|---:|---:|');
      for (const phase of ['start', 'open']) {
        for (const f of w[phase]?.files ?? []) out.push(`| ${phase} | \`${f.url.slice(0, 80)}\` | ${f.status} | ${f.raw} | ${f.brotli} |`);
      }
      out.push('', '</details>', '');
    }
  }

  if (r.lighthouse) {
    const lh = r.lighthouse;
    out.push(
      '### Lighthouse: the host page with and without a widget',
      '',
      `Lighthouse ${lh.lighthouse_version}, ${lh.preset}, performance category only; ${lh.runs_per_variant} runs per variant, ${lh.order}; ` +
        'each run in a fresh headless Chromium. Medians (min–max).',
      '',
      '| variant | score | TBT | LCP | FCP | TTI | CLS | main-thread work (observed) | bytes |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const v of Object.keys(lh.medians)) {
      const m = lh.medians[v];
      const lo = lh.min[v];
      const hi = lh.max[v];
      const range = (k, f) => `${f(m[k])} (${f(lo[k])}–${f(hi[k])})`;
      out.push(
        `| ${NAMES[v] ?? v} | ${range('score', (x) => num(x))} | ${range('tbt_ms', ms)} | ${range('lcp_ms', ms)} | ${ms(m.fcp_ms)} | ${ms(m.tti_ms)} | ${num(m.cls, 3)} | ${ms(m.mainthread_ms)} | ${kb(m.total_bytes)} |`,
      );
    }
    out.push('');
    if (r.weight?.rocketchat) {
      out.push(
        'Rocket.Chat livechat runs here against a static server with its published build and no backend: its API calls fail (404), ' +
          'so it does no more work than it would against a real Rocket.Chat server, probably less.',
        '',
      );
    }
  }

  if (r.click_to_history) {
    const ch = r.click_to_history;
    out.push(
      '### Click to history',
      '',
      `A conversation of ${ch.messages_in_conversation} messages (customer and agent taking turns), the customer's token stored in the host page's localStorage as the widget stores it. ` +
        `From the click on the launcher (performance.now() in the host page) to the panel showing the last ${ch.messages_shown} messages: ` +
        'a probe in the panel\'s frame checks on every animation frame (and on IntersectionObserver changes) that the frame is on screen and its DOM holds the ' +
        `${ch.messages_shown} messages ending with the last one, waits for that frame to be painted, and posts to the host page, which takes the time on receipt.`,
      '',
      '| scenario | what is warm | runs | median | min | max |',
      '|---|---|---:|---:|---:|---:|',
    );
    const what = {
      cold: 'nothing: a fresh browser context (empty HTTP cache), clicked the moment the launcher is drawn (its `ready` event), before the loader could preload anything',
      warm_reload: 'the HTTP cache (and V8 code cache) of the same context after a first open; the page reloaded and clicked the moment the launcher is drawn: the panel\'s files come from cache (the frame page revalidated), the history from the server',
      returning_idle: 'everything: the page loaded without a click, the loader loaded the returning customer\'s panel in the background (hidden) once the page was idle, then the click',
      reopen: 'everything: the panel closed and opened again in the same page view',
    };
    for (const [k, s] of Object.entries(ch.scenarios)) {
      out.push(`| ${k} | ${what[k]} | ${s.runs} | ${ms(s.median_ms)} | ${ms(s.min_ms)} | ${ms(s.max_ms)} |`);
    }
    out.push('');
    const cold = ch.breakdown_first_run?.cold;
    if (cold) {
      out.push(
        '<details><summary>Where the cold time goes (first run; the frame\'s Resource Timing, ms after the click, on the frame\'s clock)</summary>',
        '',
        '| what | start | end | from cache | bytes |',
        '|---|---:|---:|---|---:|',
      );
      for (const row of cold) out.push(`| ${row.what} | ${row.start_ms ?? ''} | ${row.end_ms ?? ''} | ${row.from_cache ?? ''} | ${row.bytes ?? ''} |`);
      out.push('', '</details>', '');
    }
    if (ch.errors?.length) out.push('Browser errors seen: ' + ch.errors.map((e) => `\`${e.slice(0, 160)}\``).join(', '), '');
  }

  out.push('### Other widgets: published figures (not measured here)', '', '| widget | figure | source | why not measured here / note |', '|---|---|---|---|');
  for (const p of r.published) out.push(`| ${p.widget} | ${p.figure} | ${p.source} | ${p.why_not_measured} |`);
  out.push('');
  return out.join('\n');
}
