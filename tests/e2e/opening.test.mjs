// Looking is free: opening the messenger must not create a conversation,
// store a token, or show anything to agents until the customer sends.

import assert from 'node:assert/strict';
import { Messenger, scenario } from './support.mjs';

scenario('opening the messenger without sending creates no conversation and stores no token', async (world) => {
  const { server } = world;
  const profile = await world.launchProfile('visitor');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);

  await messenger.launcher.waitFor({ state: 'visible' });
  assert.equal(await messenger.storedConversation(server.origin), null, 'no token before opening');

  await messenger.open();
  await messenger.composer.fill('typed, but not sent');
  await profile.settled();
  assert.equal(await messenger.messages.count(), 0, 'nothing shows as sent');
  assert.equal(await messenger.storedConversation(server.origin), null, 'no token after opening');
  assert.deepEqual(await server.listConversations(), [], 'agents see no conversation');

  // The checks above can see a conversation when there is one.
  await messenger.send('Now I have a question');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Now I have a question' }]);
  const entry = await messenger.storedConversation(server.origin);
  assert.ok(entry?.token, `a token is stored once a message is sent, got ${JSON.stringify(entry)}`);
  assert.equal((await server.listConversations()).length, 1);
});

scenario('the launcher is drawn by the loader alone: the panel app is fetched only when the messenger is opened', async (world) => {
  const profile = await world.launchProfile('visitor');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);
  const panelFiles = () => profile.requestUrls.filter((url) => /\/frame\/|\.wasm(?:$|\?)/.test(new URL(url).pathname));

  await messenger.launcher.waitFor({ state: 'visible' });
  await profile.settled();
  assert.deepEqual(panelFiles(), [], 'the host page loaded nothing of the panel before it was opened');
  assert.ok(profile.requestUrls.some((url) => new URL(url).pathname === '/widget.js'), 'the loader was fetched');

  // The check above can see the panel's files once they are loaded.
  await messenger.open();
  await messenger.composer.waitFor({ state: 'visible' });
  assert.ok(panelFiles().some((url) => new URL(url).pathname.endsWith('.wasm')), `the panel's wasm is fetched on opening, got ${panelFiles().join(', ')}`);
});
