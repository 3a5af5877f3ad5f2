// Conversations live in the database, not in the server process: a restart
// on the same database (and the same origin, which keys the host's
// localStorage) loses nothing and the customer's token keeps working.

import assert from 'node:assert/strict';
import { Messenger, scenario } from './support.mjs';

const BEFORE = 'Sent before the restart';
const AFTER = 'Sent after the restart';

scenario('messages survive a server restart on the same database and the conversation goes on', async (world) => {
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);

  await messenger.open();
  await messenger.send(BEFORE);
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: BEFORE }]);
  const { origin, port } = world.server;

  const exit = await world.server.stop();
  assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `the server stops on SIGTERM, got ${JSON.stringify(exit)}`);
  const restarted = await world.startServer({ port });
  assert.equal(restarted.origin, origin, 'the server came back on the same origin');

  await page.reload();
  await messenger.open();
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: BEFORE }]);

  await messenger.send(AFTER, { via: 'button' });
  await messenger.waitForMessages([
    { author: 'customer', status: 'sent', body: BEFORE },
    { author: 'customer', status: 'sent', body: AFTER },
  ]);
  const conversation = await restarted.onlyConversation();
  const stored = await restarted.getConversation(conversation.id);
  assert.deepEqual(stored.messages.map((m) => m.body), [BEFORE, AFTER], 'both messages are in one conversation');
});
