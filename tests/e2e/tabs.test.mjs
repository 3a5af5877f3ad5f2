// Two tabs of the same site show the same conversation and stay in sync: a
// message sent in one appears in the other, replies reach both, and what is
// read in one is read in the other. They share one stream to the server
// (the leading tab's), and when that tab closes another takes over.

import assert from 'node:assert/strict';
import { Messenger, eventually, scenario } from './support.mjs';

scenario('two tabs stay in sync over one stream, read state included, and survive the leading tab closing', async (world) => {
  const profile = await world.launchProfile('customer');
  const pageA = await profile.open(world.hostPage('/'));
  const tabA = new Messenger(pageA);
  await tabA.open();
  await tabA.send('Hello from the first tab');
  await tabA.waitForMessages([{ author: 'customer', status: 'sent', body: 'Hello from the first tab' }]);
  const conversation = await world.server.onlyConversation();

  const pageB = await profile.open(world.hostPage('/pricing'));
  const tabB = new Messenger(pageB);
  await tabB.open();
  await tabB.waitForMessages([{ author: 'customer', status: 'sent', body: 'Hello from the first tab' }]);

  // Sent in B, shown in A; a reply shows in both.
  await tabB.send('And this from the second');
  await world.server.reply(conversation.id, 'Hi! Both tabs see this');
  const expected = [
    { author: 'customer', body: 'Hello from the first tab' },
    { author: 'customer', body: 'And this from the second' },
    { author: 'agent', body: 'Hi! Both tabs see this' },
  ];
  await tabA.waitForMessages(expected);
  await tabB.waitForMessages(expected);
  await eventually(() => assert.equal(profile.openStreams.size, 1), {
    what: 'the two tabs to share a single stream',
  });

  // Replies while both panels are closed count as unread in both tabs;
  // reading them in one clears the other's badge too.
  await tabA.close();
  await tabB.close();
  await world.server.reply(conversation.id, 'One more thing');
  await world.server.reply(conversation.id, 'And another');
  for (const tab of [tabA, tabB]) {
    await eventually(async () => assert.equal(await tab.unreadBadge.textContent(), '2'), {
      what: 'both tabs to count two unread replies',
    });
    await tab.unreadBadge.waitFor({ state: 'visible' });
  }
  await tabB.open();
  await tabB.unreadBadge.waitFor({ state: 'hidden' });
  await tabA.unreadBadge.waitFor({ state: 'hidden' });

  // Whichever tab led, closing it hands the stream to the other, which
  // still receives what comes next.
  const leaderIsA = [...profile.openStreams].every((request) => request.frame().page() === pageA);
  const [gone, stays] = leaderIsA ? [pageA, tabB] : [pageB, tabA];
  await gone.close();
  await stays.open();
  await world.server.reply(conversation.id, 'After the leading tab closed');
  await stays.waitForMessages([
    ...expected,
    { author: 'agent', body: 'One more thing' },
    { author: 'agent', body: 'And another' },
    { author: 'agent', body: 'After the leading tab closed' },
  ]);
  await eventually(() => assert.equal(profile.openStreams.size, 1), { what: 'one stream, from the remaining tab' });
});
