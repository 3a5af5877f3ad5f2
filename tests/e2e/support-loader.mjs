// Helpers of the loader's tests (csp, spa, api, embedding, mobile): host pages
// served with headers of their own (HostSite cannot set any), the embed snippet
// with the JS API's queue stub and data-* attributes, and sites created
// through the inbox API.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';

/**
 * A host site on localhost (another site than the server's 127.0.0.1) whose
 * pages carry the response headers they were registered with (a CSP, say).
 * Also serves plain files (`file()`), e.g. a host page's own script.
 */
export class HeaderHost {
  #routes = new Map();

  static async start() {
    const host = new HeaderHost();
    host.server = createServer((request, response) => {
      const route = host.#routes.get(new URL(request.url, 'http://host').pathname);
      if (!route) {
        response.writeHead(request.url === '/favicon.ico' ? 204 : 404).end();
        return;
      }
      response.writeHead(200, { 'cache-control': 'no-store', ...route.headers }).end(route.body);
    });
    await new Promise((resolve) => host.server.listen(0, '127.0.0.1', resolve));
    host.origin = `http://localhost:${host.server.address().port}`;
    return host;
  }

  /** Serves `html` at `path` with `headers`; returns the page's URL. */
  page(path, html, headers = {}) {
    this.#routes.set(path, { body: html, headers: { 'content-type': 'text/html; charset=utf-8', ...headers } });
    return this.origin + path;
  }

  /** Serves a JavaScript file at `path`. */
  script(path, js) {
    this.#routes.set(path, { body: js, headers: { 'content-type': 'text/javascript; charset=utf-8' } });
    return this.origin + path;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** The queue stub of the README's snippet, as one line of JavaScript. */
export const STUB = 'window.Messenger=window.Messenger||function(){(Messenger.q=Messenger.q||[]).push(arguments)};';

/**
 * A host page embedding the loader: `attributes` become data-* attributes of
 * the script tag; `before` is markup placed before it (e.g. the stub and
 * queued calls), `body` the page's own content.
 */
export function embedHtml({ serverOrigin, attributes = {}, head = '', before = '', body = '<h1>Acme</h1>', embed = true }) {
  const data = Object.entries(attributes)
    .map(([name, value]) => ` data-${name}="${value}"`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>Acme — host page</title>
${head}
</head>
<body>
${body}
${before}
${embed ? `<script src="${serverOrigin}/widget.js" async${data}></script>` : ''}
</body>
</html>`;
}

/** Site settings as the inbox sends them, with `overrides`. */
export function siteSettings(overrides = {}) {
  return {
    name: 'Acme',
    allowed_origins: [],
    color: '#2563eb',
    position: 'right',
    offset_x: 20,
    offset_y: 20,
    z_index: 2147483000,
    greeting: null,
    default_language: 'en',
    texts: {},
    identity_required: false,
    ...overrides,
  };
}

/**
 * Creates a site as an admin through the inbox API; returns the CreatedSite
 * ({site, secret}) and the admin's inbox `session`.
 */
export async function createSite(world, overrides = {}) {
  const admin = await world.createAdmin();
  const session = await world.server.inboxSignIn(admin);
  const { status, body } = await world.server.inboxRequest(session, 'POST', '/sites', siteSettings(overrides));
  assert.equal(status, 201, `POST /api/v1/inbox/sites: ${JSON.stringify(body)}`);
  return { ...body, session };
}

/**
 * Records, in every document of the profile (host pages and the messenger's
 * frame alike), the CSP violations it reports, in `window.__violations`.
 */
export async function recordViolations(profile) {
  await profile.context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (event) =>
      window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI} (${event.sourceFile}:${event.lineNumber})`),
    );
  });
}

/**
 * Records the JS API's events in the host page's `window.__events`, as
 * [name, detail] pairs. Run in the page (before or after the loader).
 */
export const RECORD_EVENTS = `window.__events = [];
for (const name of ['ready', 'open', 'close', 'unread-count-changed', 'message-received']) {
  Messenger('on', name, (detail) => window.__events.push([name, detail === undefined ? null : detail]));
}`;

/** The events recorded by RECORD_EVENTS so far. */
export function recordedEvents(page) {
  return page.evaluate(() => window.__events);
}

/**
 * The profile's console errors and uncaught page errors (not its failed
 * requests: a frame that reloads aborts its stream, as a page reload does).
 */
export function consoleErrors(profile) {
  return profile.errors.filter((e) => !e.startsWith('request failed:'));
}
