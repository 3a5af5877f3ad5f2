// The composer: Enter sends, Shift+Enter starts a new line.

import assert from 'node:assert/strict';
import { Messenger, scenario } from './support.mjs';

scenario('shift+enter inserts a newline without sending, and the sent message keeps both lines', async (world) => {
  const { server } = world;
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);

  await messenger.open();
  await messenger.composer.click();
  await page.keyboard.type('first line');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('second line');
  assert.equal(await messenger.composer.inputValue(), 'first line\nsecond line');
  await profile.settled();
  assert.equal(await messenger.messages.count(), 0, 'Shift+Enter sent nothing');
  assert.deepEqual(await server.listConversations(), [], 'Shift+Enter reached no server');

  await page.keyboard.press('Enter');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'first line\nsecond line' }]);
  assert.equal(await messenger.composer.inputValue(), '', 'the composer is cleared after sending');

  // Shown on two lines: innerText follows the rendering (pre-wrap, <br>, or blocks).
  const body = messenger.messages.first().locator('[data-testid=message-body]');
  const shownLines = (await body.innerText()).split(/\n+/).map((line) => line.trim());
  assert.deepEqual(shownLines, ['first line', 'second line'], 'the message renders on two lines');

  const conversation = await server.onlyConversation();
  const stored = await server.getConversation(conversation.id);
  assert.equal(stored.messages.length, 1);
  assert.equal(stored.messages[0].body, 'first line\nsecond line', 'the server stores the newline');
});
