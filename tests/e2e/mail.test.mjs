// The SMTP sink fixture (mail.mjs over tests/smtp/sink.py) against a real SMTP
// client, a plain dialogue over TCP. Needs no messenger server and no browser.

import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpSink, links, parseMail } from './mail.mjs';

/** Sends one message: EHLO, MAIL FROM, RCPT TO (each), DATA, QUIT. */
async function send(port, from, to, message) {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolveConnect, rejectConnect) => {
    socket.once('connect', resolveConnect);
    socket.once('error', rejectConnect);
  });
  const lines = createInterface({ input: socket })[Symbol.asyncIterator]();
  const expect = async (code, after) => {
    for (;;) {
      const { value: line, done } = await lines.next();
      assert.ok(!done, `after ${after}: the connection closed`);
      assert.ok(line.startsWith(code), `after ${after}: expected ${code}, got ${JSON.stringify(line)}`);
      if (line[3] !== '-') return; // "250-..." continues the reply
    }
  };
  try {
    await expect('220', 'connecting');
    const commands = [
      ['EHLO client.test', '250'],
      [`MAIL FROM:<${from}>`, '250'],
      ...to.map((address) => [`RCPT TO:<${address}>`, '250']),
      ['DATA', '354'],
    ];
    for (const [command, code] of commands) {
      socket.write(`${command}\r\n`);
      await expect(code, command);
    }
    const data = message
      .replace(/\n$/, '')
      .split('\n')
      .map((line) => (line.startsWith('.') ? `.${line}` : line))
      .join('\r\n');
    socket.write(`${data}\r\n.\r\n`);
    await expect('250', 'the message');
    socket.write('QUIT\r\n');
    await expect('221', 'QUIT');
  } finally {
    socket.destroy();
  }
}

const PLAIN = `From: Messenger <noreply@messenger.test>
To: Ada <ada@example.com>
Subject: Your conversation
X-Folded: first half
 second half
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

Hello Ada,

.a line that starts with a dot
See https://messenger.test/c/abc?x=1.
`;

const ALTERNATIVE = `From: =?utf-8?q?L=C3=A9a_of_Support?= <support@messenger.test>
To: zoe@example.com
Subject: =?utf-8?b?UsOpcG9uc2UgZGUgbCfDqXF1aXBl?=
 =?utf-8?q?_=E2=9C=93_done?=
MIME-Version: 1.0
Content-Type: multipart/alternative;
 boundary="0123456789abcdefghij"

--0123456789abcdefghij
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Bonjour Zo=C3=A9,

Votre conversation continue ici, sur une ligne assez longue pour qu'elle so=
it coup=C3=A9e : https://messenger.test/resume?token=3Dabc=3Ddef
--0123456789abcdefghij
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+Qm9uam91ciBab8OpLDwvcD4KPHA+PGEgaHJlZj0iaHR0cHM6Ly9tZXNzZW5nZXIudGVzdC9y
ZXN1bWU/dG9rZW49YWJjIj5SZXByZW5kcmU8L2E+PC9wPg==
--0123456789abcdefghij--
`;

test('the SMTP sink keeps, decodes and survives an outage', async (t) => {
  const sink = await SmtpSink.start();
  t.after(() => sink.close());
  const { port } = sink;
  assert.deepEqual(sink.messages(), []);

  await send(port, 'noreply@messenger.test', ['ada@example.com', 'bcc@example.com'], PLAIN);
  await send(port, 'support@messenger.test', ['zoe@example.com'], ALTERNATIVE);
  const [plain, alternative, ...rest] = await sink.waitForMessages(2);
  assert.equal(rest.length, 0);

  assert.equal(plain.from, 'noreply@messenger.test');
  assert.deepEqual(plain.to, ['ada@example.com', 'bcc@example.com']);
  assert.equal(plain.subject, 'Your conversation');
  assert.equal(plain.header('x-folded'), 'first half second half');
  assert.equal(plain.header('Cc'), undefined);
  assert.equal(plain.text, 'Hello Ada,\n\n.a line that starts with a dot\nSee https://messenger.test/c/abc?x=1.\n');
  assert.equal(plain.html, null);
  assert.deepEqual(links(plain.text), ['https://messenger.test/c/abc?x=1']);

  assert.equal(alternative.subject, "Réponse de l'équipe ✓ done");
  assert.equal(alternative.decodedHeader('FROM'), 'Léa of Support <support@messenger.test>');
  assert.equal(
    alternative.text,
    "Bonjour Zoé,\n\nVotre conversation continue ici, sur une ligne assez longue pour qu'elle soit coupée : " +
      'https://messenger.test/resume?token=abc=def',
  );
  assert.equal(
    alternative.html,
    '<p>Bonjour Zoé,</p>\n<p><a href="https://messenger.test/resume?token=abc">Reprendre</a></p>',
  );
  assert.deepEqual(alternative.links(), ['https://messenger.test/resume?token=abc=def']);

  // An outage: nothing listens on the port any more.
  await sink.stop();
  await assert.rejects(send(port, 'a@messenger.test', ['b@example.com'], PLAIN), { code: 'ECONNREFUSED' });
  assert.equal(sink.messages().length, 2);

  // Back on the same port; numbers continue after the messages already there.
  await sink.startAgain();
  assert.equal(sink.port, port);
  await send(port, 'a@messenger.test', ['b@example.com'], PLAIN);
  const mails = await sink.waitForMessages(3);
  assert.match(mails[2].path, /000003\.eml$/);

  await assert.rejects(sink.waitForMessages(4, { timeout: 200 }), /expected 4 message\(s\).*3 arrived/s);
});

test('encoded words and links', () => {
  const mail = parseMail(Buffer.from('Subject: =?utf-8?q?a?= =?utf-8?q?b?= c\r\n\r\nbody\r\n'));
  assert.equal(mail.subject, 'ab c');
  assert.equal(mail.text, 'body\n');
  assert.deepEqual(links('(see https://a.test/x), and http://b.test/y.'), ['https://a.test/x', 'http://b.test/y']);
});
