// The outbox: what the customer sends while offline or while the server is
// unreachable is shown as pending, kept in the host page's localStorage
// (with its client id) until the server has stored it, and sent by itself,
// in order, exactly once, when the server can be reached again; a reload in
// between keeps it. A message the server refuses for good says why and is
// never sent again.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Messenger, eventually, scenario } from './support.mjs';

const MESSAGES_PATH = '/api/v1/conversation/messages';
const PENDING = ['sending', 'waiting'];

/** The customer's messages the server holds, oldest first. */
async function storedBodies(server) {
  const conversations = await server.listConversations();
  if (conversations.length === 0) return [];
  assert.equal(conversations.length, 1, 'one conversation');
  const page = await server.getConversation(conversations[0].conversation.id);
  return page.messages.filter((m) => m.author === 'customer').map((m) => m.body);
}

/** Waits until the panel shows `bodies` as the customer's, each pending. */
async function waitForPending(messenger, bodies, already = []) {
  await eventually(
    async () => {
      const shown = await messenger.read();
      assert.deepEqual(
        shown.map((m) => m.body),
        [...already, ...bodies],
      );
      for (const message of shown.slice(already.length)) {
        assert.ok(PENDING.includes(message.status), `"${message.body}" is pending, not ${message.status}`);
      }
    },
    { what: `${bodies.length} pending message(s)` },
  );
}

scenario('three messages written offline show as pending and are delivered once, in order, when back online', async (world) => {
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);
  await messenger.open();

  await profile.context.setOffline(true);
  const bodies = ['First, written offline', 'Second, still offline', 'Third and last'];
  for (const body of bodies) await messenger.send(body);
  await waitForPending(messenger, bodies);
  await eventually(
    async () => assert.equal(await messenger.delivery(2).innerText().catch(() => ''), 'Not sent yet: will send when the connection is back'),
    { what: 'the panel to say the messages wait for the connection' },
  );
  const stored = await messenger.storedOutbox(world.server.origin);
  assert.deepEqual(
    stored.map((m) => m.body),
    bodies,
    'the host page keeps the pending messages, in order',
  );
  assert.ok(stored.every((m) => typeof m.id === 'string' && m.id.length > 0), 'each with its client id');
  assert.deepEqual(await storedBodies(world.server), [], 'nothing reached the server while offline');

  await profile.context.setOffline(false);
  await messenger.waitForMessages(bodies.map((body) => ({ author: 'customer', status: 'sent', body })));
  assert.deepEqual(await storedBodies(world.server), bodies, 'stored once each, in the order written');
  await eventually(async () => assert.deepEqual(await messenger.storedOutbox(world.server.origin), []), {
    what: 'the stored outbox to empty',
  });
});

scenario('messages pending when the page is reloaded are kept and sent after the reload', async (world) => {
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);
  await messenger.open();
  await messenger.send('Sent before the trouble');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Sent before the trouble' }]);

  // The server cannot be reached for sending (the page and its stream still can).
  const sendsRefused = [];
  const refuse = (route) => {
    sendsRefused.push(route.request().postDataJSON());
    return route.abort('connectionrefused');
  };
  await profile.context.route(`${world.server.origin}${MESSAGES_PATH}`, refuse);
  const pending = ['Written during the outage', 'Also during the outage'];
  for (const body of pending) await messenger.send(body);
  await waitForPending(messenger, pending, ['Sent before the trouble']);

  await page.reload();
  await messenger.open();
  await waitForPending(messenger, pending, ['Sent before the trouble']);
  await eventually(() => assert.ok(sendsRefused.length >= 2), { what: 'the reloaded panel to try sending again' });
  const stored = await messenger.storedOutbox(world.server.origin);
  assert.deepEqual(stored.map((m) => m.body), pending, 'the host page still holds both, in order');
  assert.deepEqual(
    [...new Set(sendsRefused.map((body) => body.client_id))],
    [stored[0].id],
    'every attempt is the first message, with its one client id: the second waits its turn',
  );

  await profile.context.unroute(`${world.server.origin}${MESSAGES_PATH}`, refuse);
  // Back online skips the backoff wait, as the browser's "online" event does.
  await (await messenger.contentFrame()).evaluate(() => window.dispatchEvent(new Event('online')));
  const all = ['Sent before the trouble', ...pending];
  await messenger.waitForMessages(all.map((body) => ({ author: 'customer', status: 'sent', body })));
  assert.deepEqual(await storedBodies(world.server), all, 'each stored once, in order');
});

scenario('a message the server refuses for good says why, is not sent again, and does not hold back the next', async (world) => {
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/'));
  // An outbox left by an earlier visit: one message too long for the server
  // (the composer would not let it through; stored data may still hold one).
  const refusedId = randomUUID();
  const outbox = [
    { id: refusedId, body: 'x'.repeat(5001), at: Date.now() - 1000 },
    { id: randomUUID(), body: 'The one after it', at: Date.now() },
  ];
  await page.evaluate(
    ([prefix, entries]) => entries.forEach((m) => localStorage.setItem(prefix + m.id, JSON.stringify(m))),
    [`messenger:${world.server.origin}:outbox:`, outbox],
  );
  const sent = [];
  const attempts = () => sent.filter((body) => body.client_id === refusedId).length;
  profile.context.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === MESSAGES_PATH) {
      sent.push(request.postDataJSON());
    }
  });
  await page.reload();
  const messenger = new Messenger(page);
  await messenger.open();

  await messenger.waitForMessages([
    { author: 'customer', status: 'sent', body: 'The one after it' },
    { author: 'customer', status: 'failed', body: 'x'.repeat(5001) },
  ]);
  const failedIndex = 1;
  assert.match(await messenger.delivery(failedIndex).innerText(), /^Not sent: .*longer than 5000 characters/i);
  assert.equal(attempts(), 1, 'the refused message was sent once');
  assert.deepEqual(await storedBodies(world.server), ['The one after it']);

  // A reload shows it still refused, without sending it again.
  await page.reload();
  await messenger.open();
  await messenger.waitForMessages([
    { author: 'customer', status: 'sent', body: 'The one after it' },
    { author: 'customer', status: 'failed', body: 'x'.repeat(5001) },
  ]);
  await profile.settled();
  assert.equal(attempts(), 1, 'still sent only once');

  // The customer removes it.
  await messenger.messages.nth(failedIndex).locator('[data-testid=remove]').click();
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'The one after it' }]);
  await eventually(async () => assert.deepEqual(await messenger.storedOutbox(world.server.origin), []), {
    what: 'the stored outbox to empty',
  });
});

scenario('a send stuck on a dead connection is given up when the network comes back, and sent again once', async (world) => {
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);
  await messenger.open();
  await messenger.send('Before');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Before' }]);

  // The next send never gets an answer (a connection that died silently);
  // later ones go through.
  const attempts = [];
  let stuck = null;
  const route = (r) => {
    attempts.push(r.request().postDataJSON());
    if (attempts.length === 1) {
      stuck = r; // never answered
      return undefined;
    }
    return r.continue();
  };
  await profile.context.route(`${world.server.origin}${MESSAGES_PATH}`, route);
  await messenger.send('Stuck at first');
  await eventually(() => assert.equal(attempts.length, 1), { what: 'the send to be under way' });
  assert.equal((await messenger.read())[1].status, 'sending');

  await (await messenger.contentFrame()).evaluate(() => window.dispatchEvent(new Event('online')));
  await messenger.waitForMessages([
    { author: 'customer', status: 'sent', body: 'Before' },
    { author: 'customer', status: 'sent', body: 'Stuck at first' },
  ]);
  assert.equal(attempts.length, 2, 'sent again once');
  assert.equal(attempts[0].client_id, attempts[1].client_id, 'with the same client id');
  assert.deepEqual(await storedBodies(world.server), ['Before', 'Stuck at first']);
  await profile.context.unroute(`${world.server.origin}${MESSAGES_PATH}`, route);
  await stuck?.abort().catch(() => {});
});
