// The servers one run of the web benchmark needs, all on 127.0.0.0/8:
//
// - the real `messenger-server` (release build) on a temporary SQLite file,
//   with one site created through the inbox API (its public `mws_…` key goes
//   into the embed snippet) and one customer's conversation seeded through the
//   customer and agent APIs;
// - the host site: the reference article page (host/article.html) on
//   http://localhost:PORT (another *site* than the server's 127.0.0.1, as on a
//   customer's site), in one variant per widget;
// - a static server for the other widgets' builds installed from npm (Rocket.Chat
//   livechat), standing in for their servers: it serves their files only, no
//   backend, so their API calls fail with 404.

import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { brotliCompressSync, constants as zlib } from 'node:zlib';

const START_TIMEOUT_MS = 20_000;

/** Runs `bin args…` to completion; rejects with its output when it fails. */
function runToEnd(bin, args, env) {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('error', rejectRun);
    child.on('exit', (code) => (code === 0 ? resolveRun(output) : rejectRun(new Error(`${bin} ${args.join(' ')}: exit ${code}\n${output}`))));
  });
}

export class Messenger {
  log = [];

  /** Starts the server on a fresh database in a temporary folder. */
  static async start({ bin, assets }) {
    const m = new Messenger();
    m.bin = bin;
    m.dir = await mkdtemp(join(tmpdir(), 'messenger-bench-web-'));
    m.database = join(m.dir, 'messenger.db');
    m.agentKey = randomBytes(24).toString('hex');
    // The admin first (accounts live in the database), then the server.
    m.admin = { email: 'bench@example.com', password: randomBytes(18).toString('base64url') };
    await runToEnd(bin, ['create-admin', '--email', m.admin.email, '--name', 'Bench', '--database', m.database], {
      MESSENGER_ADMIN_PASSWORD: m.admin.password,
    });
    const args = ['--addr', '127.0.0.1:0', '--database', m.database, '--assets', assets, '--agent-api-key', m.agentKey];
    m.child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn', NO_COLOR: '1' } });
    process.on('exit', () => m.child.kill('SIGKILL'));
    createInterface({ input: m.child.stderr }).on('line', (l) => m.#remember(l));
    const origin = await new Promise((resolveListening, rejectListening) => {
      const timer = setTimeout(() => rejectListening(new Error(`no "listening on" line within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      m.child.on('error', rejectListening);
      m.child.on('exit', (code) => rejectListening(new Error(`messenger-server exited (${code}) before listening:\n${m.log.join('\n')}`)));
      createInterface({ input: m.child.stdout }).on('line', (line) => {
        m.#remember(line);
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolveListening(match[1]);
        }
      });
    });
    m.origin = origin;
    return m;
  }

  #remember(line) {
    this.log.push(line);
    if (this.log.length > 100) this.log.shift();
  }

  async #json(method, path, { headers = {}, body } = {}) {
    const response = await fetch(this.origin + path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return { response, body: text ? JSON.parse(text) : null };
  }

  /** Creates a site through the inbox API, as an admin would; returns its public key. */
  async createSite(name = 'Coastal Review') {
    const { response, body: session } = await this.#json('POST', '/api/v1/inbox/session', { body: this.admin });
    const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const { body } = await this.#json('POST', '/api/v1/inbox/sites', {
      headers: { cookie, 'x-csrf-token': session.csrf_token },
      body: {
        name,
        allowed_origins: [],
        color: '#0b6e4f',
        position: 'right',
        offset_x: 20,
        offset_y: 20,
        z_index: 2147483000,
        greeting: null,
        default_language: 'en',
        texts: {},
        identity_required: false,
      },
    });
    this.siteKey = body.site.key;
    return this.siteKey;
  }

  /**
   * A customer's conversation of `count` messages, customer and agent taking
   * turns, posted through the customer API (as the widget does) and the agent
   * API. Returns {token, seq, lastBody, bodies}.
   */
  async seedConversation({ count, pageUrl }) {
    const site = { 'x-messenger-site': this.siteKey };
    const { body: started } = await this.#json('POST', '/api/v1/conversations', {
      headers: site,
      body: { page_url: pageUrl, language: 'en' },
    });
    const token = started.token;
    const id = started.conversation.id;
    const bodies = [];
    let seq = 0;
    for (let i = 1; i <= count; i += 1) {
      const text =
        i % 2
          ? `Customer message ${i}: does the harbour tour on Saturday still run if the forecast says rain?`
          : `Agent reply ${i}: yes, it runs in light rain; we only cancel for wind above force 6.`;
      const path = i % 2 ? '/api/v1/conversation/messages' : `/api/v1/agent/conversations/${encodeURIComponent(id)}/messages`;
      const auth = i % 2 ? `Bearer ${token}` : `Bearer ${this.agentKey}`;
      const { body: message } = await this.#json('POST', path, {
        headers: { ...site, authorization: auth },
        body: { client_id: randomUUID(), body: text },
      });
      seq = Math.max(seq, message.seq ?? 0);
      bodies.push(text);
    }
    return { token, id, seq, lastBody: bodies.at(-1), bodies };
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await new Promise((r) => this.child.once('exit', r));
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json']);

/**
 * A static server on 127.0.0.1:0. `routes(path)` returns {file} or {body,
 * type} or null. Text files go out brotli-compressed (quality 11, as a CDN
 * would) when the browser accepts it, so other widgets are weighed and
 * loaded at their best.
 */
export async function staticServer(routes, { origin = 'localhost' } = {}) {
  const cache = new Map();
  const server = createServer(async (request, response) => {
    try {
      const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
      if (path === '/favicon.ico') return response.writeHead(204).end();
      const route = await routes(path, request);
      if (!route) return response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      const type = route.type ?? TYPES[extname(route.file ?? '.html')] ?? 'application/octet-stream';
      let body = route.body ?? (await readFile(route.file));
      const headers = { 'content-type': type, 'cache-control': route.cache ?? 'no-store' };
      const ext = route.file ? extname(route.file) : '.html';
      if (COMPRESSIBLE.has(ext) && /\bbr\b/.test(request.headers['accept-encoding'] ?? '') && body.length > 512) {
        const key = route.file ?? null;
        let compressed = key && cache.get(key);
        if (!compressed) {
          compressed = brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } });
          if (key) cache.set(key, compressed);
        }
        body = compressed;
        headers['content-encoding'] = 'br';
        headers.vary = 'accept-encoding';
      }
      headers['content-length'] = body.length;
      response.writeHead(200, headers).end(body);
    } catch (error) {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    origin: `http://${origin}:${server.address().port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A file under `root` for a URL path under it, or null (no `..`, no hidden files). */
export async function fileUnder(root, relative) {
  const path = normalize(join(root, relative));
  if (!path.startsWith(resolve(root)) || /(^|\/)\./.test(relative)) return null;
  try {
    return (await stat(path)).isFile() ? path : null;
  } catch {
    return null;
  }
}
