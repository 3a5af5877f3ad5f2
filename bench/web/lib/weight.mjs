// What a widget makes the host page download: every response from another
// origin than the host page's own, while the page loads and until the network
// has been quiet for 500 ms (Playwright's `networkidle`), in a fresh browser
// context (empty cache). Each file is weighed raw (decoded), and compressed
// here with gzip -9 and brotli quality 11 (whatever its server sent), so that
// every widget is weighed the same way; `transfer` is what actually crossed the
// network (its Content-Length as served, when known).

import { gzipSync, brotliCompressSync, constants as zlib } from 'node:zlib';
import { chromium } from 'playwright-core';
import { BROWSER_ARGS, CHROMIUM } from './chromium.mjs';

function weigh(buffer) {
  return {
    raw: buffer.length,
    gzip: gzipSync(buffer, { level: 9 }).length,
    brotli: brotliCompressSync(buffer, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

function sum(files) {
  const total = { files: files.length, raw: 0, gzip: 0, brotli: 0 };
  for (const f of files) for (const k of ['raw', 'gzip', 'brotli']) total[k] += f[k];
  return total;
}

/**
 * Loads `url`; with `open`, then calls `open(page)` and weighs what that
 * adds. Returns {start: {total, files}, open?: {total, files}}.
 */
export async function weighWidget({ url, hostOrigin, open }) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    let phase = 'start';
    const pending = [];
    const failed = [];
    context.on('requestfailed', (request) => failed.push(`${request.url()} (${request.failure()?.errorText})`));
    context.on('response', (response) => {
      const u = new URL(response.url());
      if (u.origin === hostOrigin || u.protocol === 'data:') return;
      const at = phase;
      pending.push(
        (async () => {
          const type = response.request().resourceType();
          // Streams (server-sent events, websockets) never end: not weighed.
          if (type === 'eventsource' || (response.headers()['content-type'] ?? '').startsWith('text/event-stream')) return null;
          const body = await response.body().catch(() => null);
          if (!body) return null;
          const length = Number(response.headers()['content-length']);
          return {
            phase: at,
            url: u.pathname + u.search,
            status: response.status(),
            type,
            encoding: response.headers()['content-encoding'] ?? null,
            transfer: Number.isFinite(length) ? length : null,
            ...weigh(body),
          };
        })(),
      );
    });
    await page.goto(url, { waitUntil: 'load', timeout: 180_000 });
    await page.waitForLoadState('networkidle', { timeout: 30_000 }).catch(() => {});
    const result = {};
    if (open) {
      phase = 'open';
      await open(page);
      await page.waitForLoadState('networkidle', { timeout: 30_000 }).catch(() => {});
    }
    const files = (await Promise.all(pending)).filter(Boolean);
    for (const p of open ? ['start', 'open'] : ['start']) {
      const these = files.filter((f) => f.phase === p);
      result[p] = { total: sum(these), files: these };
    }
    result.failed_requests = failed;
    await context.close();
    return result;
  } finally {
    await browser.close();
  }
}
