// The main story: a customer on a host site talks to an agent, the
// conversation survives reloads and new tabs of the same browser, stays
// private to that browser, and its token never travels in a URL.

import assert from 'node:assert/strict';
import { Messenger, scenario } from './support.mjs';

const FIRST = 'Hello from the host page';
const SECOND = 'Second message, sent with the button';
const REPLY = 'Hi! An agent here, how can I help?';

scenario('a customer conversation persists across reloads, reaches the agent, and stays in its own browser profile', async (world) => {
  const { server } = world;
  const url = world.hostPage('/', { title: 'Acme' });
  assert.notEqual(new URL(url).origin, server.origin, 'the host page must be on another origin than the server');

  const customer = await world.launchProfile('customer');
  const page = await customer.open(url);
  const messenger = new Messenger(page);

  await messenger.launcher.waitFor({ state: 'visible' });
  await messenger.open();
  assert.match(await messenger.panel.innerText(), /Acme/, "the panel shows the host's data-title");
  await messenger.send(FIRST, { via: 'enter' });
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: FIRST }]);
  await messenger.send(SECOND, { via: 'button' });
  await messenger.waitForMessages([
    { author: 'customer', status: 'sent', body: FIRST },
    { author: 'customer', status: 'sent', body: SECOND },
  ]);
  assert.equal(await messenger.composer.inputValue(), '', 'the composer is cleared after sending');

  await page.reload();
  await messenger.open();
  await messenger.waitForMessages([
    { author: 'customer', status: 'sent', body: FIRST },
    { author: 'customer', status: 'sent', body: SECOND },
  ]);

  const conversation = await server.onlyConversation();
  const stored = await server.getConversation(conversation.id);
  assert.deepEqual(
    stored.messages.map(({ author, body }) => ({ author, body })),
    [{ author: 'customer', body: FIRST }, { author: 'customer', body: SECOND }],
  );
  await server.reply(conversation.id, REPLY);

  await page.reload();
  await messenger.open();
  const history = [
    { author: 'customer', body: FIRST },
    { author: 'customer', body: SECOND },
    { author: 'agent', body: REPLY },
  ];
  await messenger.waitForMessages(history);

  // Another tab of the same profile shares localStorage, so it resumes.
  const secondTab = await customer.open(url);
  const secondTabMessenger = new Messenger(secondTab);
  await secondTabMessenger.open();
  await secondTabMessenger.waitForMessages(history);

  const entry = await messenger.storedConversation(server.origin);
  assert.ok(entry && typeof entry.token === 'string' && entry.token.length >= 16,
    `the host's localStorage keeps the conversation token, got ${JSON.stringify(entry)}`);

  // A different browser (another user-data-dir) knows nothing of it.
  const stranger = await world.launchProfile('stranger');
  const strangerPage = await stranger.open(url);
  const strangerMessenger = new Messenger(strangerPage);
  await strangerMessenger.open();
  await stranger.settled();
  assert.equal(await strangerMessenger.messages.count(), 0, 'a fresh profile shows no messages');
  assert.equal(await strangerMessenger.storedConversation(server.origin), null,
    'a fresh profile has no conversation token');
  const strangerStorage = await strangerPage.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.ok(!strangerStorage.includes(entry.token), 'the token does not leak into another profile');

  for (const profile of [customer, stranger]) {
    const urls = [...profile.requestUrls, ...profile.frameUrls()];
    assert.ok(urls.length > 0);
    const leaking = urls.filter((u) => u.includes(entry.token) || u.includes(encodeURIComponent(entry.token)));
    assert.deepEqual(leaking, [], `no URL requested by the ${profile.name} profile contains the token`);
  }
  assert.ok(
    customer.requestUrls.some((u) => u.startsWith(`${server.origin}/api/`)),
    'the customer profile did talk to the API (so the URL check above saw its requests)',
  );
});
