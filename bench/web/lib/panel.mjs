// Time to a usable panel: from the click on the launcher to the panel
// showing the conversation's last 50 messages, in headless Chromium driven by
// playwright-core. Every time is taken inside the browser with
// performance.now(), never with node timers:
//
// - t0: in the host page, right before `launcher.click()` (a real click event
//   on the launcher button in the widget's shadow root);
// - the frame (the panel's iframe, another site than the host page) runs a
//   probe that checks, on every animation frame and whenever its
//   IntersectionObserver reports a change, that the panel is on screen
//   (intersecting the viewport) and that its DOM holds >= 50 messages whose
//   last one is the conversation's last message. On the first animation frame
//   where both hold it waits for that frame to be painted (a task after the
//   rAF callback), then posts `bench:shown` to the host page;
// - t1: in the host page, on receiving that message. The postMessage hop is
//   included in the figure (it only makes it larger).
//
// The probe also sends the frame's Resource Timing entries and any
// performance marks, for the breakdown of where the time goes.

import { chromium } from 'playwright-core';
import { BROWSER_ARGS, CHROMIUM } from './chromium.mjs';

const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink.user_timing', 'loading', 'toplevel', 'v8', 'blink'];

/** Runs in every document of the context (host pages and the panel's frame). */
function probe({ server, host, count, lastBody }) {
  if (location.origin === host) {
    const bench = (window.__bench = { t0: null, shown: null });
    // The README's queue stub, so that the page can listen before the loader runs.
    window.Messenger =
      window.Messenger ||
      function () {
        (window.Messenger.q = window.Messenger.q || []).push(arguments);
      };
    const launcher = () => document.querySelector('messenger-widget')?.shadowRoot?.querySelector('[data-testid=launcher]');
    window.__benchClick = () => {
      bench.shown = null;
      bench.t0 = performance.now();
      launcher().click();
    };
    window.__benchOpen = () => launcher()?.getAttribute('aria-expanded') === 'true';
    // ?bench=ready: click the moment the launcher is drawn (its `ready`
    // event), before the loader could preload anything in the background.
    if (new URLSearchParams(location.search).get('bench') === 'ready') {
      window.Messenger('on', 'ready', () => window.__benchClick());
    }
    addEventListener('message', (event) => {
      if (event.origin === server && event.data && event.data.type === 'bench:shown' && !bench.shown) {
        bench.shown = { t1: performance.now(), ...event.data };
      }
    });
    return;
  }
  if (location.origin !== server || !location.pathname.startsWith('/frame/')) return;
  let armed = true; // a freshly loaded frame reports once, by itself
  let visible = false;
  let observing = false;
  const messagesShown = () => {
    const messages = document.querySelectorAll('[data-testid=message]');
    if (messages.length < count) return false;
    return messages[messages.length - 1].querySelector('[data-testid=message-body]')?.textContent === lastBody;
  };
  const report = (how) => {
    if (!armed) return;
    armed = false;
    const at = performance.now();
    // Only the times go with the message (serialising every Resource Timing
    // entry would cost milliseconds inside the measured interval); the
    // breakdown is read afterwards (window.__benchDetail).
    parent.postMessage({ type: 'bench:shown', how, frameNow: at, frameEpoch: performance.timeOrigin + at, frameOrigin: performance.timeOrigin }, '*');
    const entries = (type) => performance.getEntriesByType(type).map((e) => e.toJSON());
    window.__benchDetail = {
      shownMessages: document.querySelectorAll('[data-testid=message]').length,
      navigation: entries('navigation'),
      resources: entries('resource'),
      marks: entries('mark'),
      measures: entries('measure'),
    };
  };
  const afterPaint = (how) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => report(how);
    channel.port2.postMessage(0);
  };
  const observe = () => {
    if (observing || !document.documentElement) return;
    observing = true;
    new IntersectionObserver((entries) => {
      visible = entries[entries.length - 1].isIntersecting;
      // Delivered after the rendering update that changed it: already painted.
      if (visible && armed && messagesShown()) report('intersection');
    }).observe(document.documentElement);
  };
  const tick = () => {
    observe();
    if (armed && visible && messagesShown()) afterPaint('animation-frame');
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__benchArm = () => {
    armed = true;
  };
  window.__benchState = () => ({ visible, shown: messagesShown() });
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function stats(xs) {
  const s = xs.filter((x) => Number.isFinite(x));
  return {
    runs: s.length,
    median_ms: round(median(s)),
    min_ms: round(Math.min(...s)),
    max_ms: round(Math.max(...s)),
    all_ms: s.map(round),
  };
}
const round = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);

/** Where the frame's time went: its navigation and resources relative to the click. */
function breakdown(shown, t0Epoch) {
  const rel = (frameTime) => round(shown.frameOrigin + frameTime - t0Epoch);
  const nav = shown.navigation[0];
  const rows = [];
  if (nav) {
    rows.push({ what: 'frame document', start_ms: rel(nav.startTime), end_ms: rel(nav.responseEnd), from_cache: nav.transferSize === 0 });
    rows.push({ what: 'frame DOMContentLoaded', start_ms: null, end_ms: rel(nav.domContentLoadedEventEnd) });
  }
  for (const r of shown.resources) {
    const name = new URL(r.name).pathname.replace(/-[0-9a-f]{16}/, '-HASH');
    rows.push({
      what: name + (r.initiatorType === 'fetch' ? ' (fetch)' : ''),
      start_ms: rel(r.startTime),
      end_ms: rel(r.responseEnd),
      from_cache: r.transferSize === 0,
      bytes: r.encodedBodySize,
    });
  }
  for (const m of shown.marks) rows.push({ what: `mark ${m.name}`, start_ms: null, end_ms: rel(m.startTime) });
  rows.push({ what: 'shown (frame clock)', start_ms: null, end_ms: round(shown.frameEpoch - t0Epoch) });
  return rows;
}

/**
 * The scenarios, `runs` times each. Returns {cold, warm_reload, returning_idle,
 * reopen} with per-run figures and their stats.
 */
export async function clickToHistory({ server, host, pageUrl, blankUrl, token, seq, count, lastBody, runs, log, trace }) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS });
  const results = { cold: [], warm_reload: [], returning_idle: [], reopen: [] };
  const breakdowns = { cold: null, warm_reload: null, returning_idle: null, reopen: null };
  const errors = [];
  try {
    for (let run = 0; run < runs; run += 1) {
      // A fresh context: empty HTTP cache, empty storage, new renderer processes.
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await context.addInitScript(probe, { server, host, count, lastBody });
      const page = await context.newPage();
      page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
      page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
      // The customer's stored conversation, as the widget keeps it (the
      // host's localStorage), written on a page of the host without the widget.
      await page.goto(blankUrl);
      await page.evaluate(([key, value]) => localStorage.setItem(key, value), [`messenger:${server}`, JSON.stringify({ token, seen: seq })]);

      const measure = async (what) => {
        const shown = await page.waitForFunction(() => window.__bench.shown, null, { timeout: 30_000 }).then((h) => h.jsonValue());
        Object.assign(shown, await frame().evaluate(() => window.__benchDetail));
        const t0 = await page.evaluate(() => window.__bench.t0);
        const t0Epoch = await page.evaluate(() => performance.timeOrigin + window.__bench.t0);
        const ms = shown.t1 - t0;
        results[what].push(ms);
        breakdowns[what] ??= breakdown(shown, t0Epoch);
        log?.(`  ${what} run ${run + 1}: ${ms.toFixed(1)} ms (frame clock ${(shown.frameEpoch - t0Epoch).toFixed(1)} ms, via ${shown.how}, ${shown.shownMessages} messages)`);
      };
      const frame = () => page.frames().find((f) => f.url().startsWith(`${server}/frame/`));
      const close = async () => {
        await page.evaluate(() => window.__benchOpen() && document.querySelector('messenger-widget').shadowRoot.querySelector('[data-testid=launcher]').click());
        // Closed: the frame is off screen (its own IntersectionObserver says so).
        await frame().waitForFunction(() => !window.__benchState().visible, null, { timeout: 10_000, polling: 20 });
      };

      // 1. Cold: click the moment the launcher is drawn; nothing of the
      //    panel is loaded or cached.
      if (trace && run === 0) await browser.startTracing(page, { path: `${trace}/cold.json`, categories: TRACE_CATEGORIES });
      await page.goto(`${pageUrl}?bench=ready`);
      await measure('cold');
      if (trace && run === 0) await browser.stopTracing();

      // 2. Warm reload: the same context (HTTP cache and V8 code cache warm,
      //    the conversation stored), the page loaded again, the click again
      //    the moment the launcher is drawn: the panel loads from cache, its
      //    history from the server.
      await page.goto(`${pageUrl}?bench=ready`);
      await measure('warm_reload');

      // 3. Returning visitor, page idle: loaded without clicking; the loader
      //    loads a returning customer's panel in the background once the page
      //    is idle (for the unread badge); once it shows the history (hidden),
      //    the customer clicks.
      await page.goto(pageUrl);
      await page.waitForFunction(() => document.querySelector('messenger-widget')?.shadowRoot?.querySelector('iframe'), null, { timeout: 20_000 });
      while (!frame()) await page.waitForEvent('framenavigated', { timeout: 20_000 });
      await frame().waitForFunction(() => window.__benchState?.().shown, null, { timeout: 20_000, polling: 20 });
      await frame().evaluate(() => window.__benchArm());
      await page.evaluate(() => window.__benchClick());
      await measure('returning_idle');

      // 4. Reopen: the panel closed and opened again in the same page view.
      await close();
      await frame().evaluate(() => window.__benchArm());
      if (trace && run === 0) await browser.startTracing(page, { path: `${trace}/reopen.json`, categories: TRACE_CATEGORIES });
      await page.evaluate(() => window.__benchClick());
      await measure('reopen');
      if (trace && run === 0) await browser.stopTracing();

      await context.close();
    }
  } finally {
    await browser.close();
  }
  return {
    scenarios: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, stats(v)])),
    breakdown_first_run: breakdowns,
    errors: [...new Set(errors)].slice(0, 20),
  };
}
