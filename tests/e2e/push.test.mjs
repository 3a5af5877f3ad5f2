// New messages are pushed: the panel holds one stream open (fetch + Server-
// Sent Events) for as long as there is a conversation, open or closed, and
// reconnects by itself when the server goes away. The widget no longer polls,
// so a reply that shows up without a reload came over the stream.

import assert from 'node:assert/strict';
import { Messenger, STREAM_PATH, eventually, scenario } from './support.mjs';

const QUESTION = 'Is anyone there?';

/** Opens the panel on a fresh host page and starts a conversation. */
async function startConversation(world, profileName = 'customer') {
  const profile = await world.launchProfile(profileName);
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);
  await messenger.open();
  await messenger.send(QUESTION);
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: QUESTION }]);
  const conversation = await world.server.onlyConversation();
  return { profile, page, messenger, conversation };
}

/** Fails if any message body shows more than once. */
async function assertNoDuplicates(messenger) {
  const bodies = (await messenger.read()).map((m) => m.body);
  assert.deepEqual(bodies, [...new Set(bodies)], 'no message is shown twice');
}

scenario('an agent reply appears in the open panel without a reload', async (world) => {
  const { profile, page, messenger, conversation } = await startConversation(world);

  await world.server.reply(conversation.id, 'Pushed to the panel');
  await messenger.waitForMessages(
    [
      { author: 'customer', body: QUESTION },
      { author: 'agent', body: 'Pushed to the panel' },
    ],
    { timeout: 5_000 },
  );

  // A panel that resumes a stored conversation streams too, from its history.
  await page.reload();
  await messenger.open();
  await messenger.waitForMessages([
    { author: 'customer', body: QUESTION },
    { author: 'agent', body: 'Pushed to the panel' },
  ]);
  await world.server.reply(conversation.id, 'Pushed after a reload');
  await messenger.waitForMessages(
    [
      { author: 'customer', body: QUESTION },
      { author: 'agent', body: 'Pushed to the panel' },
      { author: 'agent', body: 'Pushed after a reload' },
    ],
    { timeout: 5_000 },
  );

  const polls = profile.requestUrls.filter((url) => /[?&]after=/.test(url));
  assert.deepEqual(polls, [], 'the panel never polls for new messages');
  assert.ok(
    profile.requestUrls.some((url) => new URL(url).pathname === STREAM_PATH),
    'the panel opened the stream',
  );
  assert.equal(await messenger.connectionStatus.isVisible(), false, 'no reconnecting notice while connected');
});

scenario('after the server is killed the panel shows it is reconnecting, comes back by itself and misses nothing', async (world) => {
  const { profile, messenger, conversation } = await startConversation(world);
  const { port, origin } = world.server;
  await world.server.reply(conversation.id, 'Before the crash');
  await messenger.waitForMessages([
    { author: 'customer', body: QUESTION },
    { author: 'agent', body: 'Before the crash' },
  ]);
  await messenger.connectionStatus.waitFor({ state: 'hidden' });

  const exit = await world.server.kill();
  assert.equal(exit.signal, 'SIGKILL');
  await messenger.connectionStatus.waitFor({ state: 'visible' });
  assert.match(await messenger.connectionStatus.innerText(), /reconnecting/i);

  // Hold the panel off the restarted server until a reply has been posted,
  // so that reply can only arrive through the stream's catch-up.
  let refused = 0;
  const refuse = (route) => {
    refused += 1;
    return route.abort('connectionrefused');
  };
  await profile.context.route(`${origin}${STREAM_PATH}*`, refuse);
  const restarted = await world.startServer({ port });
  assert.equal(restarted.origin, origin, 'the server came back on the same origin');
  // Coming back online skips the backoff wait: the panel tries at once.
  const frame = await (await messenger.frameElement.elementHandle()).contentFrame();
  await frame.evaluate(() => window.dispatchEvent(new Event('online')));
  await eventually(() => assert.ok(refused > 0), { what: 'the panel to try the restarted server' });
  await restarted.reply(conversation.id, 'Posted while the panel was away');
  await profile.context.unroute(`${origin}${STREAM_PATH}*`, refuse);
  assert.equal(await messenger.connectionStatus.isVisible(), true, 'still reconnecting');

  // No nudge this time: the backoff alone brings it back (its wait is at most 30 s).

  await messenger.waitForMessages([
    { author: 'customer', body: QUESTION },
    { author: 'agent', body: 'Before the crash' },
    { author: 'agent', body: 'Posted while the panel was away' },
  ], { timeout: 45_000 });
  await messenger.connectionStatus.waitFor({ state: 'hidden' });

  await restarted.reply(conversation.id, 'Posted once reconnected');
  await messenger.waitForMessages(
    [
      { author: 'customer', body: QUESTION },
      { author: 'agent', body: 'Before the crash' },
      { author: 'agent', body: 'Posted while the panel was away' },
      { author: 'agent', body: 'Posted once reconnected' },
    ],
    { timeout: 5_000 },
  );
  await assertNoDuplicates(messenger);

  // The conversation goes on in both directions.
  await messenger.send('Thanks!');
  const all = await messenger.waitForMessages([
    { author: 'customer', body: QUESTION },
    { author: 'agent', body: 'Before the crash' },
    { author: 'agent', body: 'Posted while the panel was away' },
    { author: 'agent', body: 'Posted once reconnected' },
    { author: 'customer', body: 'Thanks!' },
  ]);
  assert.equal(all.at(-1).status, 'sent');
  await assertNoDuplicates(messenger);
});

scenario('replies that arrive while the panel is closed show an unread badge that opening clears', async (world) => {
  const { messenger, conversation } = await startConversation(world);
  await messenger.closeButton.click();
  await messenger.frameElement.waitFor({ state: 'hidden' });
  await messenger.unreadBadge.waitFor({ state: 'hidden' });

  for (const body of ['One', 'Two', 'Three']) await world.server.reply(conversation.id, body);
  await messenger.unreadBadge.waitFor({ state: 'visible' });
  await eventually(async () => assert.equal(await messenger.unreadBadge.textContent(), '3'), {
    what: 'the badge to count the three replies',
  });
  assert.equal(await messenger.frameElement.isVisible(), false, 'the panel stayed closed');

  await messenger.open();
  await messenger.unreadBadge.waitFor({ state: 'hidden' });
  await messenger.waitForMessages([
    { author: 'customer', body: QUESTION },
    { author: 'agent', body: 'One' },
    { author: 'agent', body: 'Two' },
    { author: 'agent', body: 'Three' },
  ]);
});
