// A real SMTP server for the e2e tests: tests/smtp/sink.py (aiosmtpd, which
// scripts/setup.sh installs) on a free port of 127.0.0.1, keeping every
// message it accepts in a temporary folder; and a reader for what it kept.
//
//   const sink = await SmtpSink.start();
//   t.after(() => sink.close());
//   // ... start the server with 127.0.0.1:sink.port as its SMTP relay ...
//   const [mail] = await sink.waitForMessages(1);
//   assert.equal(mail.subject, 'Your conversation');
//   const [resume] = links(mail.text);
//   await sink.stop();       // an outage: connections are refused
//   await sink.startAgain(); // same port, same folder
//
// The reader decodes what lettre produces: one text part or
// multipart/alternative (also nested in multipart/mixed or related) with
// text/plain and text/html parts, in 7bit, 8bit, quoted-printable or base64,
// and RFC 2047 encoded words (=?utf-8?b?...?=, =?utf-8?q?...?=) in headers.
// It is not a general MIME parser. Nothing sleeps for a fixed time: we await
// the sink's "listening on" line and poll its folder every 50 ms.

import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SINK_SCRIPT = join(REPO_ROOT, 'tests/smtp/sink.py');
const PYTHON = process.env.PYTHON ?? 'python3';

/** How long the sink may take to print its "listening on" line. */
const START_TIMEOUT_MS = 20_000;
/** How long `startAgain()` keeps retrying while the port is not free yet. */
const RESTART_TIMEOUT_MS = 10_000;
/** How often `waitForMessages()` looks at the folder. */
const POLL_MS = 50;
/** Default deadline of `waitForMessages()`. */
export const MAIL_TIMEOUT_MS = 15_000;

// Sinks still running; killed synchronously if the test process exits.
const liveSinks = new Set();
process.on('exit', () => {
  for (const child of liveSinks) child.kill('SIGKILL');
});

export class SmtpSink {
  /** The port it listens on (kept across `stop()` and `startAgain()`). */
  port = 0;
  /** What the sink wrote to stderr (last lines), for failure reports. */
  log = [];

  constructor(root) {
    this.root = root;
    /** The folder the sink writes NNNNNN.eml and NNNNNN.json to. */
    this.dir = join(root, 'mail');
    mkdirSync(this.dir);
  }

  /** Starts a sink on a free port over a new, empty folder. */
  static async start() {
    const sink = new SmtpSink(await mkdtemp(join(tmpdir(), 'smtp-sink-')));
    try {
      sink.port = await sink.#spawn(0);
    } catch (error) {
      await rm(sink.root, { recursive: true, force: true });
      throw error;
    }
    return sink;
  }

  get addr() {
    return `127.0.0.1:${this.port}`;
  }

  get running() {
    return Boolean(this.child) && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The messages received so far, oldest first. */
  messages() {
    return readdirSync(this.dir)
      .filter((name) => /^\d{6}\.eml$/.test(name))
      .sort()
      .map((name) => readMail(join(this.dir, name)));
  }

  /**
   * Waits until at least `n` messages have arrived and returns all of them
   * (oldest first). Rejects after `timeout` ms, listing what did arrive.
   */
  async waitForMessages(n, { timeout = MAIL_TIMEOUT_MS } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const mails = this.messages();
      if (mails.length >= n) return mails;
      if (Date.now() >= deadline) {
        const listing = mails.map((mail) => `\n  ${mail.summary()}`).join('');
        throw new Error(
          `expected ${n} message(s) at the SMTP sink on port ${this.port} within ${timeout} ms, ` +
            `${mails.length} arrived${listing ? ':' : ''}${listing}\n` +
            `the sink is ${this.running ? 'running' : 'NOT running'}; its log:\n${this.logTail()}`,
        );
      }
      await delay(POLL_MS);
    }
  }

  /**
   * Kills the sink (SIGKILL, as in a crash) and waits for it to exit: from
   * then on connections to its port are refused. The messages stay.
   */
  async stop() {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await child.exited;
  }

  /** Starts the sink again on the same port over the same folder (numbers continue). */
  async startAgain() {
    await this.stop();
    const deadline = Date.now() + RESTART_TIMEOUT_MS;
    for (;;) {
      try {
        await this.#spawn(this.port);
        return;
      } catch (error) {
        if (Date.now() >= deadline) {
          error.message = `could not start the SMTP sink again: ${error.message}`;
          throw error;
        }
        await delay(POLL_MS);
      }
    }
  }

  /** Stops the sink and deletes its folder. */
  async close() {
    await this.stop();
    await rm(this.root, { recursive: true, force: true });
  }

  logTail(lines = 40) {
    return this.log.slice(-lines).join('\n') || '(empty)';
  }

  /** Spawns sink.py on `port`; resolves with the port once it listens. */
  async #spawn(port) {
    const args = [SINK_SCRIPT, '--port', String(port), '--dir', this.dir];
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    liveSinks.add(child);
    child.exited = new Promise((resolveExit) => {
      child.on('exit', (code, signal) => {
        liveSinks.delete(child);
        resolveExit({ code, signal });
      });
      child.on('error', (error) => {
        liveSinks.delete(child);
        resolveExit({ error });
      });
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      this.log.push(line);
      if (this.log.length > 200) this.log.shift();
    });
    let timer;
    const listening = new Promise((resolveListening, rejectListening) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line);
        if (match) resolveListening(Number(match[1]));
      });
      child.exited.then(({ code, signal, error }) =>
        rejectListening(
          new Error(`the SMTP sink exited (${error ?? `code ${code}, signal ${signal}`}) before listening`),
        ),
      );
      timer = setTimeout(
        () => rejectListening(new Error(`the SMTP sink printed no "listening on" line within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
    });
    try {
      const bound = await listening;
      if (port !== 0 && bound !== port) throw new Error(`the SMTP sink listens on ${bound}, not ${port}`);
      this.child = child;
      return bound;
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await child.exited;
      // Let the last stderr lines arrive before reporting them.
      await new Promise((resolveDrained) => setImmediate(resolveDrained));
      error.message +=
        `\ncommand: ${PYTHON} ${args.join(' ')}` +
        `\nIs aiosmtpd installed (scripts/setup.sh)? The sink's log:\n${this.logTail()}`;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---------------------------------------------------------------------------
// Reading the messages

/** One message the sink received, decoded. */
export class Mail {
  /** NNNNNN.eml in the sink's folder. */
  path = '';
  /** The envelope's sender (MAIL FROM). */
  from = '';
  /** The envelope's recipients (RCPT TO), in order. */
  to = [];
  /** The Subject header, unfolded, encoded words decoded. */
  subject = '';
  /** The top-level headers in order as [name, value]: unfolded, trimmed, not decoded. */
  headers = [];
  /** The text/plain part, decoded, with \n line ends; '' if none. */
  text = '';
  /** The text/html part, decoded, with \n line ends; null if none. */
  html = null;
  /** The message's bytes as received (a Buffer). */
  raw = Buffer.alloc(0);

  /** The first header called `name` (any case), unfolded, undecoded; undefined if none. */
  header(name) {
    return lookup(this.headers, name);
  }

  /** Every header called `name` (any case), in order. */
  headerAll(name) {
    const wanted = name.toLowerCase();
    return this.headers.filter(([n]) => n.toLowerCase() === wanted).map(([, value]) => value);
  }

  /** The first header called `name` with its encoded words decoded. */
  decodedHeader(name) {
    const value = this.header(name);
    return value === undefined ? undefined : decodeEncodedWords(value);
  }

  /** The http(s) URLs in the text part. */
  links() {
    return links(this.text);
  }

  summary() {
    const name = this.path.split('/').pop();
    return `${name} from ${JSON.stringify(this.from)} to ${JSON.stringify(this.to)}: ${JSON.stringify(this.subject)}`;
  }
}

/** Reads NNNNNN.eml and its envelope NNNNNN.json. */
export function readMail(path) {
  const mail = parseMail(readFileSync(path));
  const envelope = JSON.parse(readFileSync(path.replace(/\.eml$/, '.json'), 'utf8'));
  mail.path = path;
  mail.from = envelope.from ?? '';
  mail.to = envelope.to ?? [];
  return mail;
}

/** Decodes a message's bytes (the envelope fields stay empty). */
export function parseMail(raw) {
  const mail = new Mail();
  mail.raw = Buffer.from(raw);
  const message = mail.raw.toString('utf8').replace(/\r\n/g, '\n');
  const { headers, body } = splitEntity(message);
  const found = { text: null, html: null };
  collectParts(headers, body, found);
  mail.headers = headers;
  mail.subject = decodeEncodedWords(lookup(headers, 'subject') ?? '');
  mail.text = found.text ?? '';
  mail.html = found.html;
  return mail;
}

/** The http(s) URLs in `text`, in order, without trailing punctuation. */
export function links(text) {
  const found = [];
  for (const match of String(text).matchAll(/https?:\/\/[^\s<>"']+/g)) {
    let url = match[0];
    for (;;) {
      let trimmed = url.replace(/[.,;:!?]+$/, '');
      if (trimmed.endsWith(')') && !trimmed.includes('(')) trimmed = trimmed.slice(0, -1);
      if (trimmed === url) break;
      url = trimmed;
    }
    if (!url.endsWith('://')) found.push(url);
  }
  return found;
}

function lookup(headers, name) {
  const wanted = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === wanted)?.[1];
}

/** Splits an entity (\n line ends) into its unfolded headers and body. */
function splitEntity(entity) {
  let head;
  let body;
  if (entity.startsWith('\n')) {
    [head, body] = ['', entity.slice(1)];
  } else {
    const at = entity.indexOf('\n\n');
    [head, body] = at === -1 ? [entity, ''] : [entity.slice(0, at), entity.slice(at + 2)];
  }
  const headers = [];
  for (const line of head.split('\n')) {
    if (/^[ \t]/.test(line)) {
      // Unfolding removes the line break and keeps the white space.
      if (headers.length > 0) headers[headers.length - 1][1] += line;
    } else {
      const colon = line.indexOf(':');
      if (colon !== -1) headers.push([line.slice(0, colon).trim(), line.slice(colon + 1)]);
    }
  }
  for (const header of headers) header[1] = header[1].trim();
  return { headers, body };
}

/** A Content-Type's lowercased type and its parameters (names lowercased). */
function contentType(headers) {
  const value = lookup(headers, 'content-type') ?? 'text/plain; charset=us-ascii';
  const pieces = [''];
  let quoted = false;
  let escaped = false;
  for (const c of value) {
    if (escaped) escaped = false;
    else if (quoted && c === '\\') escaped = true;
    else if (c === '"') quoted = !quoted;
    else if (c === ';' && !quoted) {
      pieces.push('');
      continue;
    }
    pieces[pieces.length - 1] += c;
  }
  const params = new Map();
  for (const piece of pieces.slice(1)) {
    const at = piece.indexOf('=');
    if (at === -1) continue;
    let param = piece.slice(at + 1).trim();
    if (param.length >= 2 && param.startsWith('"') && param.endsWith('"')) {
      param = param.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    params.set(piece.slice(0, at).trim().toLowerCase(), param);
  }
  return { kind: pieces[0].trim().toLowerCase(), params };
}

/** Walks an entity, keeping the first text/plain and text/html parts that are not attachments. */
function collectParts(headers, body, found) {
  const { kind, params } = contentType(headers);
  if (kind.startsWith('multipart/')) {
    const boundary = params.get('boundary');
    if (!boundary) return;
    for (const part of multipartParts(body, boundary)) {
      const entity = splitEntity(part);
      collectParts(entity.headers, entity.body, found);
    }
    return;
  }
  const slot = { 'text/plain': 'text', 'text/html': 'html' }[kind];
  if (!slot || found[slot] !== null) return;
  if (/^\s*attachment/i.test(lookup(headers, 'content-disposition') ?? '')) return;
  const encoding = (lookup(headers, 'content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  let bytes;
  if (encoding === 'quoted-printable') bytes = decodeQuotedPrintable(body);
  else if (encoding === 'base64') bytes = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  else bytes = Buffer.from(body, 'utf8');
  found[slot] = decodeCharset(params.get('charset') ?? 'utf-8', bytes).replace(/\r\n/g, '\n');
}

/**
 * The parts of a multipart body (\n line ends), without preamble and
 * epilogue. The line break before a delimiter belongs to the delimiter.
 */
function multipartParts(body, boundary) {
  const delimiter = `--${boundary}`;
  const lines = body.split('\n');
  const parts = [];
  let current = null;
  for (const line of lines) {
    if (line.startsWith(delimiter)) {
      const after = line.slice(delimiter.length);
      const closing = after.startsWith('--');
      if (closing || after.trim() === '') {
        if (current !== null) parts.push(current.join('\n'));
        if (closing) return parts;
        current = [];
        continue;
      }
    }
    if (current !== null) current.push(line);
  }
  if (current !== null) parts.push(current.join('\n'));
  return parts;
}

function decodeQuotedPrintable(body) {
  const out = [];
  const lines = body.split('\n');
  lines.forEach((original, index) => {
    // Trailing white space on an encoded line was added in transport.
    let line = original.replace(/[ \t]+$/, '');
    const softBreak = line.endsWith('=');
    if (softBreak) line = line.slice(0, -1);
    const bytes = Buffer.from(line, 'utf8');
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0x3d /* = */) {
        const hex = bytes.subarray(i + 1, i + 3).toString('latin1');
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          out.push(parseInt(hex, 16));
          i += 2;
          continue;
        }
      }
      out.push(bytes[i]);
    }
    if (!softBreak && index + 1 < lines.length) out.push(0x0a);
  });
  return Buffer.from(out);
}

function decodeCharset(charset, bytes) {
  const name = charset.trim().toLowerCase();
  if (['iso-8859-1', 'latin1', 'latin-1'].includes(name)) return Buffer.from(bytes).toString('latin1');
  return Buffer.from(bytes).toString('utf8');
}

/** Decodes RFC 2047 encoded words; white space between adjacent encoded words is dropped. */
export function decodeEncodedWords(value) {
  const word = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
  let out = '';
  let last = 0;
  let afterWord = false;
  for (const match of value.matchAll(word)) {
    const between = value.slice(last, match.index);
    if (!(afterWord && /^\s*$/.test(between))) out += between;
    const [, charsetWithLanguage, encoding, payload] = match;
    const charset = charsetWithLanguage.split('*')[0]; // RFC 2231: "utf-8*en"
    let bytes;
    if (encoding.toUpperCase() === 'B') {
      bytes = Buffer.from(payload, 'base64');
    } else {
      bytes = Buffer.from(
        payload
          .replace(/_/g, ' ')
          .replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      );
    }
    out += decodeCharset(charset, bytes);
    last = match.index + match[0].length;
    afterWord = true;
  }
  return out + value.slice(last);
}
