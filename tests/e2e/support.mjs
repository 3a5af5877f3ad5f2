// Fixtures for the browser end-to-end tests: the real `messenger-server`
// binary on port 0, a host site on another site (localhost vs 127.0.0.1) served by a small node
// `http` server, Chromium profiles (one user-data-dir each) driven by
// playwright-core, and one page object for the embedded messenger.
//
// Every test gets its own server, database, host site and profiles through
// `scenario()`, which also tears everything down (even when the test fails)
// and, on failure, appends the server's log and the browser's console errors
// to the assertion message and saves screenshots under test-results/.
//
// Nothing here sleeps for a fixed time to wait for something observable:
// we await the server's "listening on" line, Playwright's locator waits, or
// `eventually()`, which re-runs an assertion until it holds or a deadline passes.

import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER_BIN =
  process.env.MESSENGER_SERVER_BIN ?? join(REPO_ROOT, 'target/debug/messenger-server');
export const ASSETS_DIR = process.env.MESSENGER_ASSETS_DIR ?? join(REPO_ROOT, 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESULTS_DIR = join(REPO_ROOT, 'tests/e2e/test-results');

/** How long the server may take to print its "listening on" line. */
const SERVER_START_TIMEOUT_MS = 20_000;
/** How long a stopped server may take to exit after SIGTERM before we SIGKILL it. */
const SERVER_STOP_TIMEOUT_MS = 10_000;
/** Default deadline of `eventually()` and of Playwright's waits. */
export const UI_TIMEOUT_MS = 15_000;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Server processes still alive; killed synchronously if the test process exits
// some other way (an uncaught error, the runner's timeout), so none outlives us.
const liveServers = new Set();
process.on('exit', () => {
  for (const child of liveServers) child.kill('SIGKILL');
});

/**
 * Runs an assertion until it stops throwing or `timeout` ms have passed, then
 * rethrows its last error. For state that changes on its own (the server's
 * data, storage written by the widget); polls every `interval` ms.
 */
export async function eventually(check, { timeout = UI_TIMEOUT_MS, interval = 100, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) {
        error.message = `still failing after ${timeout} ms waiting for ${what}:\n${error.message}`;
        throw error;
      }
    }
    await delay(interval);
  }
}

/** Waits for `promise`, failing with `message` after `ms` milliseconds. */
async function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// The server under test

/**
 * One run of `messenger-server`. `start()` resolves once the server has printed
 * `listening on http://127.0.0.1:PORT`, i.e. accepts connections.
 */
export class MessengerServer {
  /** The last lines the server wrote to stderr, for failure reports. */
  log = [];

  /** `args`, `env`: more flags and environment (mail settings, say). */
  constructor({ database, agentKey, port = 0, args = [], env = {} }) {
    this.database = database;
    this.agentKey = agentKey;
    this.requestedPort = port;
    this.extraArgs = args;
    this.extraEnv = env;
  }

  static async start(options) {
    const server = new MessengerServer(options);
    await server.#spawn();
    return server;
  }

  async #spawn() {
    const args = [
      '--addr', `127.0.0.1:${this.requestedPort}`,
      '--database', this.database,
      '--assets', ASSETS_DIR,
      '--agent-api-key', this.agentKey,
      ...this.extraArgs,
    ];
    const child = spawn(SERVER_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1', ...this.extraEnv },
    });
    this.child = child;
    liveServers.add(child);
    this.exited = new Promise((resolveExit) => {
      child.on('exit', (code, signal) => {
        liveServers.delete(child);
        resolveExit({ code, signal });
      });
    });

    createInterface({ input: child.stderr }).on('line', (line) => this.#remember(line));
    const listening = new Promise((resolveListening, rejectListening) => {
      child.on('error', rejectListening); // e.g. the binary does not exist
      createInterface({ input: child.stdout }).on('line', (line) => {
        this.#remember(`[stdout] ${line}`);
        const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(line);
        if (match) resolveListening(match);
      });
      this.exited.then(({ code, signal }) =>
        rejectListening(new Error(`messenger-server exited (code ${code}, signal ${signal}) before listening`)),
      );
    });
    try {
      const match = await withTimeout(
        listening,
        SERVER_START_TIMEOUT_MS,
        `messenger-server printed no "listening on" line within ${SERVER_START_TIMEOUT_MS} ms`,
      );
      this.origin = match[1];
      this.port = Number(match[2]);
    } catch (error) {
      child.kill('SIGKILL');
      error.message += `\ncommand: ${SERVER_BIN} ${args.join(' ')}\nserver log:\n${this.logTail()}`;
      throw error;
    }
  }

  #remember(line) {
    this.log.push(line.replace(/\x1b\[[0-9;]*m/g, '')); // in case colours are on anyway
    if (this.log.length > 200) this.log.shift();
  }

  logTail(lines = 40) {
    return this.log.slice(-lines).join('\n') || '(empty)';
  }

  /** Stops the server with SIGTERM and resolves with how it exited. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    try {
      return await withTimeout(this.exited, SERVER_STOP_TIMEOUT_MS, 'messenger-server ignored SIGTERM');
    } catch (error) {
      this.child.kill('SIGKILL');
      await this.exited;
      throw error;
    }
  }

  /** Kills the server at once (SIGKILL: no graceful shutdown, connections just drop). */
  async kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }

  // --- The agent API, called from the test process -------------------------

  async agentRequest(method, path, body) {
    const response = await fetch(`${this.origin}/api/v1/agent${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.agentKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** An agent has read the conversation up to `seq`. */
  async markRead(conversationId, seq) {
    const { status, body } = await this.agentRequest('POST', `/conversations/${encodeURIComponent(conversationId)}/read`, {
      seq,
    });
    assert.equal(status, 200, `agent read: ${JSON.stringify(body)}`);
    return body;
  }

  /** An agent is typing in the conversation. */
  async agentTyping(conversationId) {
    const { status, body } = await this.agentRequest('POST', `/conversations/${encodeURIComponent(conversationId)}/typing`);
    assert.equal(status, 204, `agent typing: ${JSON.stringify(body)}`);
  }

  /**
   * Opens the agents' event stream (Server-Sent Events) and collects its
   * events as {event, data} in `stream.events`; `stream.close()` ends it.
   */
  async agentEvents() {
    const controller = new AbortController();
    const response = await fetch(`${this.origin}/api/v1/agent/events`, {
      headers: { authorization: `Bearer ${this.agentKey}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    assert.equal(response.status, 200, 'the agent stream opens');
    const stream = { events: [], close: () => controller.abort() };
    (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body) {
          buffer += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
            const data = [...block.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join('\n');
            if (data) stream.events.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // Aborted by close(), or the server went away.
      }
    })();
    return stream;
  }

  /** The agent's conversation list (first page), most recent first. */
  async listConversations() {
    const { status, body } = await this.agentRequest('GET', '/conversations');
    assert.equal(status, 200, `GET /api/v1/agent/conversations: ${JSON.stringify(body)}`);
    return body.conversations;
  }

  /** One conversation with its messages, oldest first. */
  async getConversation(id) {
    const { status, body } = await this.agentRequest('GET', `/conversations/${encodeURIComponent(id)}`);
    assert.equal(status, 200, `GET /api/v1/agent/conversations/${id}: ${JSON.stringify(body)}`);
    return body;
  }

  /** The only conversation there is; fails if there are none or several. */
  async onlyConversation() {
    const conversations = await this.listConversations();
    assert.equal(conversations.length, 1, `expected exactly one conversation, got ${JSON.stringify(conversations)}`);
    return conversations[0].conversation;
  }

  // --- The inbox API, as a signed-in agent (session cookie + CSRF token) ----

  /** Signs in to the inbox; the session to pass to `inboxRequest()`. */
  async inboxSignIn({ email, password }) {
    const response = await fetch(`${this.origin}/api/v1/inbox/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    const body = await response.json();
    assert.equal(response.status, 200, `inbox sign-in: ${JSON.stringify(body)}`);
    const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    return { cookie, csrf: body.csrf_token };
  }

  async inboxRequest(session, method, path, body) {
    const response = await fetch(`${this.origin}/api/v1/inbox${path}`, {
      method,
      headers: {
        cookie: session.cookie,
        'x-csrf-token': session.csrf,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** An agent closes the conversation (from the inbox). */
  async closeConversation(session, id) {
    const { status, body } = await this.inboxRequest(session, 'POST', `/conversations/${encodeURIComponent(id)}/close`);
    assert.equal(status, 200, `inbox close: ${JSON.stringify(body)}`);
    return body;
  }

  /** Whether the inbox has the conversation as `open` or `closed`. */
  async conversationStatus(session, id) {
    const { status, body } = await this.inboxRequest(session, 'GET', `/conversations/${encodeURIComponent(id)}`);
    assert.equal(status, 200, `inbox conversation: ${JSON.stringify(body)}`);
    return body.conversation?.status ?? body.status;
  }

  /** Posts an agent reply and returns the stored message. */
  async reply(conversationId, body) {
    const { status, body: message } = await this.agentRequest(
      'POST',
      `/conversations/${encodeURIComponent(conversationId)}/messages`,
      { client_id: randomUUID(), body },
    );
    assert.equal(status, 201, `agent reply: ${JSON.stringify(message)}`);
    return message;
  }
}

// ---------------------------------------------------------------------------
// The host site: another site (localhost; the server is 127.0.0.1) that embeds the loader

/** The HTML of a host page embedding the widget from `serverOrigin`. */
export function hostPageHtml({ serverOrigin, title = 'Acme', head = '', body = '', embed = true }) {
  const script = embed
    ? `<script src="${serverOrigin}/widget.js" async data-title="${title}"></script>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title} — host page</title>
${head}
</head>
<body>
<h1>${title}</h1>
${body}
${script}
</body>
</html>`;
}

/** A small static site on 127.0.0.1:0 serving the pages registered with `page()`. */
export class HostSite {
  #pages = new Map();

  static async start() {
    const site = new HostSite();
    site.server = createServer((request, response) => {
      const path = new URL(request.url, 'http://host').pathname;
      const html = site.#pages.get(path);
      if (path === '/favicon.ico') {
        response.writeHead(204).end(); // keeps a 404 out of the console errors we report
        return;
      }
      if (html === undefined) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
    });
    await new Promise((resolveListen) => site.server.listen(0, '127.0.0.1', resolveListen));
    // `localhost`, while the messenger server is `127.0.0.1`: another *site*,
    // not only another origin, so the panel runs as a third-party frame with
    // partitioned storage, as it does on a customer's site.
    site.origin = `http://localhost:${site.server.address().port}`;
    return site;
  }

  /** Serves `html` at `path` and returns the page's URL. */
  page(path, html) {
    this.#pages.set(path, html);
    return `${this.origin}${path}`;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise((resolveClose) => this.server.close(resolveClose));
  }
}

// ---------------------------------------------------------------------------
// Browser profiles

/** The widget's stream of new messages, read with fetch, or an EventSource. */
export const STREAM_PATH = '/api/v1/conversation/events';

function isStream(request) {
  return request.resourceType() === 'eventsource' || new URL(request.url()).pathname === STREAM_PATH;
}

/** Whether the frame that made `request` is gone (its page reloaded or closed). */
function frameGone(request) {
  try {
    return request.frame().isDetached() || request.frame().page().isClosed();
  } catch {
    return false; // not a frame's request (a service worker's, say)
  }
}

/**
 * One Chromium profile (its own user-data-dir, so its own localStorage),
 * recording every request URL, dialog and page error it sees.
 */
export class Profile {
  requestUrls = [];
  /** Streams (server-sent events) open right now, across every tab. */
  openStreams = new Set();
  dialogs = [];
  errors = [];
  #inFlight = new Set();
  #used = new WeakSet();
  #lastActivity = Date.now();

  static async launch(name, options = {}) {
    const profile = new Profile();
    profile.name = name;
    profile.dir = await mkdtemp(join(tmpdir(), `messenger-e2e-${name}-`));
    profile.context = await chromium.launchPersistentContext(profile.dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
      ...options,
    });
    profile.context.setDefaultTimeout(UI_TIMEOUT_MS);
    profile.context.on('request', (request) => {
      profile.requestUrls.push(request.url());
      // A stream (server-sent events) stays open by design: not "loading".
      if (isStream(request)) profile.openStreams.add(request);
      else profile.#inFlight.add(request);
      profile.#lastActivity = Date.now();
    });
    for (const event of ['requestfinished', 'requestfailed']) {
      profile.context.on(event, (request) => {
        profile.#inFlight.delete(request);
        profile.openStreams.delete(request);
        profile.#lastActivity = Date.now();
      });
    }
    profile.context.on('dialog', (dialog) => {
      profile.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
    profile.context.on('page', (page) => profile.#watch(page));
    for (const page of profile.context.pages()) profile.#watch(page);
    return profile;
  }

  #watch(page) {
    // A closed tab's streams end with it, whether or not Chromium reports it.
    page.on('close', () => {
      for (const request of this.openStreams) {
        let owner = null;
        try {
          owner = request.frame().page();
        } catch {
          // Not a frame's request.
        }
        if (owner === page) this.openStreams.delete(request);
      }
    });
    page.on('pageerror', (error) => this.errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') this.errors.push(`console.error: ${message.text()}`);
    });
    page.on('requestfailed', (request) =>
      this.errors.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`),
    );
  }

  /** Opens `url` in a new tab of this profile (the first time, in the tab Chromium opened blank). */
  async open(url) {
    const blank = this.context.pages().find((p) => p.url() === 'about:blank' && !this.#used.has(p));
    const page = blank ?? (await this.context.newPage());
    this.#used.add(page);
    await page.goto(url);
    return page;
  }

  /**
   * Waits until this profile has had no request in flight for `quietMs`: by
   * then whatever a page was going to load or render has had its chance.
   */
  async settled({ quietMs = 500 } = {}) {
    await eventually(
      () => {
        // A reloaded or closed page's requests may never report an end.
        for (const request of this.#inFlight) if (frameGone(request)) this.#inFlight.delete(request);
        assert.deepEqual([...this.#inFlight].map((r) => r.url()), [], 'requests in flight');
        assert.ok(Date.now() - this.#lastActivity >= quietMs, 'network not quiet yet');
      },
      { interval: 50, what: `${this.name}'s network to be quiet for ${quietMs} ms` },
    );
  }

  /** URLs of every frame of every open page (request URLs lack the #fragment). */
  frameUrls() {
    return this.context.pages().flatMap((page) => page.frames().map((frame) => frame.url()));
  }

  async close() {
    await this.context.close().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The embedded messenger, as a person would use it

export class Messenger {
  constructor(page) {
    this.page = page;
    this.launcher = page.locator('messenger-widget [data-testid=launcher]');
    this.unreadBadge = page.locator('messenger-widget [data-testid=unread-badge]');
    this.frameElement = page.locator('messenger-widget iframe[data-testid=messenger-frame]');
    this.frame = page.frameLocator('messenger-widget iframe[data-testid=messenger-frame]');
    this.panel = this.frame.locator('[data-testid=panel]');
    this.composer = this.frame.locator('[data-testid=composer-input]');
    this.sendButton = this.frame.locator('[data-testid=send]');
    this.messages = this.frame.locator('[data-testid=message]');
    this.connectionStatus = this.frame.locator('[data-testid=connection-status]');
    this.closeButton = this.frame.locator('[data-testid=close]');
    this.typing = this.frame.locator('[data-testid=typing]');
    // The customer's other conversations.
    this.yourConversations = this.frame.locator('[data-testid=your-conversations]');
    this.conversationList = this.frame.locator('[data-testid=conversation-list]');
    this.conversationItems = this.frame.locator('[data-testid=conversation-item]');
    this.newConversation = this.frame.locator('[data-testid=new-conversation]');
    this.closedNotice = this.frame.locator('[data-testid=closed-notice]');
    // Email: the invitation to get replies by email, resume links.
    this.emailCard = this.frame.locator('[data-testid=email-card]');
    this.emailLine = this.frame.locator('[data-testid=email-line]');
    this.resumeProblem = this.frame.locator('[data-testid=resume-problem]');
  }

  /** The listed conversations, in order, as {id, preview, closed, unread}. */
  async listedConversations() {
    return this.conversationItems.evaluateAll((items) =>
      items.map((item) => ({
        id: item.getAttribute('data-conversation'),
        preview: item.querySelector('[data-testid=conversation-preview]')?.textContent ?? null,
        closed: item.getAttribute('data-closed') === 'true',
        unread: [...item.querySelectorAll('[data-testid=unread-count]:not([hidden])')].map((u) => u.textContent)[0] ?? null,
      })),
    );
  }

  /** Opens the conversation list's entry whose preview is `preview`. */
  async openListed(preview) {
    await this.conversationItems.filter({ hasText: preview }).click();
    await this.conversationList.waitFor({ state: 'hidden' });
  }

  /** The text under the message at `index` that says how its delivery went. */
  delivery(index) {
    return this.messages.nth(index).locator('[data-testid=delivery]');
  }

  /** The frame's Playwright Frame, to run script in it. */
  async contentFrame() {
    return (await this.frameElement.elementHandle()).contentFrame();
  }

  /** Opens the panel (clicking the launcher unless the panel already shows). */
  async open() {
    await this.launcher.waitFor({ state: 'visible' });
    // A stored conversation makes the loader create the frame at once; let it
    // finish loading before deciding whether the panel is already open.
    if ((await this.frameElement.count()) > 0) await this.panel.waitFor({ state: 'attached' });
    // The loader keeps a closed panel's frame hidden; its content may still lay out.
    const shown = (await this.frameElement.isVisible()) && (await this.panel.isVisible());
    if (!shown) await this.launcher.click();
    await this.frameElement.waitFor({ state: 'visible' });
    await this.panel.waitFor({ state: 'visible' });
    await this.composer.waitFor({ state: 'visible' });
  }

  /** Every message shown, in DOM order, as {author, status, body}. */
  async read() {
    if ((await this.frameElement.count()) === 0) return [];
    return this.messages.evaluateAll((elements) =>
      elements.map((element) => ({
        author: element.getAttribute('data-author'),
        status: element.getAttribute('data-status'),
        body: element.querySelector('[data-testid=message-body]')?.textContent ?? null,
      })),
    );
  }

  /** Waits until the messages shown are exactly `expected` ({author, body, status?} each). */
  async waitForMessages(expected, { timeout = UI_TIMEOUT_MS } = {}) {
    return eventually(
      async () => {
        const shown = await this.read();
        const comparable = shown.map((message, i) =>
          expected[i] && 'status' in expected[i] ? message : { author: message.author, body: message.body },
        );
        assert.deepEqual(comparable, expected);
        return shown;
      },
      { timeout, what: `the panel to show ${expected.length} message(s)` },
    );
  }

  /** Types `text` into the composer and sends it with Enter or the send button. */
  async send(text, { via = 'enter' } = {}) {
    await this.composer.fill(text);
    if (via === 'enter') await this.composer.press('Enter');
    else await this.sendButton.click();
  }

  /** Closes the panel with the launcher, if it is open. */
  async close() {
    if ((await this.launcher.getAttribute('aria-expanded')) === 'true') await this.launcher.click();
    await this.frameElement.waitFor({ state: 'hidden' });
  }

  /** The unsent messages the widget keeps in the host page's localStorage, oldest first. */
  async storedOutbox(serverOrigin) {
    return this.page.evaluate((prefix) => {
      const entries = [];
      for (let i = 0; i < localStorage.length; i += 1) {
        const key = localStorage.key(i);
        if (key.startsWith(prefix)) entries.push(JSON.parse(localStorage.getItem(key)));
      }
      return entries.sort((a, b) => a.at - b.at);
    }, `messenger:${serverOrigin}:outbox:`);
  }

  /** The conversation entry the widget keeps in the host page's localStorage, or null. */
  async storedConversation(serverOrigin) {
    const raw = await this.page.evaluate((key) => localStorage.getItem(key), `messenger:${serverOrigin}`);
    return raw === null ? null : JSON.parse(raw);
  }
}

// ---------------------------------------------------------------------------
// The agents' inbox, as an agent would use it

export class Inbox {
  constructor(page, serverOrigin) {
    this.page = page;
    this.url = `${serverOrigin}/inbox/`;
    this.email = page.getByTestId('sign-in-email');
    this.password = page.getByTestId('sign-in-password');
    this.submit = page.getByTestId('sign-in-submit');
    this.error = page.getByTestId('sign-in-error');
    this.signedInAs = page.getByTestId('signed-in-as');
    this.signOutButton = page.getByTestId('sign-out');
    this.rows = page.getByTestId('conversation-item');
    this.view = page.getByTestId('conversation-view');
    this.composer = page.getByTestId('composer');
    this.sendButton = page.getByTestId('composer-send');
    this.noteMode = page.getByTestId('mode-note');
    this.replyMode = page.getByTestId('mode-reply');
    this.statusToggle = page.getByTestId('status-toggle');
    this.assignToggle = page.getByTestId('assign-toggle');
    this.viewStatus = page.getByTestId('view-status');
    this.history = page.getByTestId('history');
    this.live = page.getByTestId('live');
  }

  async open() {
    await this.page.goto(this.url);
  }

  /** Fills in and submits the sign-in form. */
  async attemptSignIn({ email, password }) {
    await this.email.fill(email);
    await this.password.fill(password);
    await this.submit.click();
  }

  /** Signs in and waits for the inbox to be live. */
  async signIn(credentials) {
    await this.attemptSignIn(credentials);
    await this.signedInAs.waitFor();
    // Signed in, with live updates flowing.
    await this.live.getByText('Live').waitFor();
  }

  /** The list's row of a conversation. */
  row(id) {
    return this.page.locator(`[data-testid=conversation-item][data-id="${id}"]`);
  }

  /** The conversation ids the list shows, in order. */
  async listed() {
    return this.rows.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')));
  }

  async reply(text) {
    await this.replyMode.click();
    await this.composer.fill(text);
    await this.sendButton.click();
    await this.history.getByText(text).waitFor();
  }

  async note(text) {
    await this.noteMode.click();
    await this.composer.fill(text);
    await this.sendButton.click();
    await this.page.getByTestId('history-note').getByText(text).waitFor();
  }
}

// ---------------------------------------------------------------------------
// One test's world

/**
 * Everything one test runs against: a fresh database directory, a server, a
 * host site, and the browser profiles the test launches. `close()` undoes all.
 */
export class World {
  profiles = [];

  static async create(name) {
    const world = new World();
    world.name = name;
    world.dir = await mkdtemp(join(tmpdir(), 'messenger-e2e-'));
    world.database = join(world.dir, 'messenger.db');
    world.agentKey = randomBytes(24).toString('hex');
    world.server = await world.startServer();
    world.host = await HostSite.start();
    return world;
  }

  /** Starts a server on this world's database (and on `port`, when given). */
  async startServer({ port = 0, args = [], env = {} } = {}) {
    this.server = await MessengerServer.start({ database: this.database, agentKey: this.agentKey, port, args, env });
    return this.server;
  }

  /**
   * Creates an agent account with the real `create-admin` command on this
   * world's database (the server picks it up: accounts live in the database).
   */
  async createAdmin({ email = 'ada@example.com', name = 'Ada', password = 'correct horse battery staple' } = {}) {
    const child = spawn(SERVER_BIN, ['create-admin', '--email', email, '--name', name, '--database', this.database], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MESSENGER_ADMIN_PASSWORD: password, NO_COLOR: '1' },
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise((resolveExit) => child.on('exit', resolveExit));
    assert.equal(code, 0, `create-admin failed: ${output}`);
    return { email, name, password };
  }

  /** Serves a host page embedding the widget at `path`; returns its URL. */
  hostPage(path = '/', options = {}) {
    return this.host.page(path, hostPageHtml({ serverOrigin: this.server.origin, ...options }));
  }

  /** A new browser profile; `options` go to Playwright's context (`timezoneId`, `locale`). */
  async launchProfile(name = `profile${this.profiles.length + 1}`, options = {}) {
    const profile = await Profile.launch(name, options);
    this.profiles.push(profile);
    return profile;
  }

  /** What to append to a failure: the server's log and what the browsers saw. */
  async diagnostics() {
    const parts = [`--- server log (${this.server?.origin}) ---`, this.server?.logTail() ?? '(no server)'];
    await mkdir(RESULTS_DIR, { recursive: true });
    for (const profile of this.profiles) {
      if (profile.errors.length) parts.push(`--- ${profile.name} errors ---`, ...profile.errors.slice(-20));
      for (const [i, page] of profile.context.pages().entries()) {
        const file = join(RESULTS_DIR, `${this.name.replace(/\W+/g, '-')}-${profile.name}-${i}.png`);
        if (await page.screenshot({ path: file, timeout: 5_000 }).then(() => true, () => false)) {
          parts.push(`screenshot: ${file}`);
        }
      }
    }
    return parts.join('\n');
  }

  async close() {
    await Promise.all(this.profiles.map((profile) => profile.close()));
    await this.host?.close();
    if (this.server) await this.server.stop().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Declares a test that runs `body(world)` against a fresh world. The world is
 * closed afterwards whatever happens; a failure carries the diagnostics.
 */
export function scenario(name, body) {
  test(name, async () => {
    for (const [what, path] of [['server binary', SERVER_BIN], ['widget build', join(ASSETS_DIR, 'widget.js')]]) {
      assert.ok(existsSync(path), `${what} missing at ${path}: build it before running the e2e tests`);
    }
    const world = await World.create(name);
    try {
      await body(world);
    } catch (error) {
      const notes = await world.diagnostics().catch((e) => `(no diagnostics: ${e.message})`);
      if (error && typeof error === 'object') error.message = `${error.message}\n${notes}`;
      throw error;
    } finally {
      await world.close();
    }
  });
}
