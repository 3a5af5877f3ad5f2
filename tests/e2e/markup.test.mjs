// Message bodies are plain text: markup in them is shown, never run, whether
// a customer typed it or an agent sent it.

import assert from 'node:assert/strict';
import { Messenger, scenario } from './support.mjs';

const PAYLOAD = '<img src=x onerror=alert(1)>';

/** Asserts that nothing in the panel was built from the payload's markup. */
async function assertNothingRan(messenger, profile) {
  // An <img src=x> would have been requested (and failed) before onerror ran.
  await profile.settled();
  assert.deepEqual(profile.dialogs, [], 'no dialog opened');
  assert.equal(await messenger.panel.locator('img').count(), 0, 'no <img> element in the panel');
  const imageRequests = profile.requestUrls.filter((url) => new URL(url).pathname.endsWith('/x'));
  assert.deepEqual(imageRequests, [], 'nothing requested the image "x"');
}

scenario('markup in a message shows as literal text and runs nothing, from a customer or an agent', async (world) => {
  const { server } = world;
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);

  await messenger.open();
  await messenger.send(PAYLOAD);
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: PAYLOAD }]);
  assert.equal(await messenger.messages.first().locator('[data-testid=message-body]').textContent(), PAYLOAD);
  await assertNothingRan(messenger, profile);

  const conversation = await server.onlyConversation();
  const stored = await server.getConversation(conversation.id);
  assert.equal(stored.messages[0].body, PAYLOAD, 'the server stores the body exactly as typed');
  await server.reply(conversation.id, PAYLOAD);

  await page.reload();
  await messenger.open();
  await messenger.waitForMessages([
    { author: 'customer', body: PAYLOAD },
    { author: 'agent', body: PAYLOAD },
  ]);
  assert.equal(await messenger.messages.nth(1).locator('[data-testid=message-body]').textContent(), PAYLOAD);
  await assertNothingRan(messenger, profile);
});
