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

  // Sent in B, shown in A; a reply shows in both. (Only the leading tab
  // sends: B's message goes through the stored outbox.)
  await tabB.send('And this from the second');
  await tabB.waitForMessages([
    { author: 'customer', status: 'sent', body: 'Hello from the first tab' },
    { author: 'customer', status: 'sent', body: 'And this from the second' },
  ]);
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

scenario('messages written offline in two tabs start one conversation and arrive once each, in order', async (world) => {
  const profile = await world.launchProfile('customer');
  const tabA = new Messenger(await profile.open(world.hostPage('/')));
  await tabA.open();
  const tabB = new Messenger(await profile.open(world.hostPage('/help')));
  await tabB.open();

  await profile.context.setOffline(true);
  await tabA.send('Written offline in the first tab');
  await tabB.send('Then in the second one');
  // Both tabs show both pending messages: they share the stored outbox.
  for (const tab of [tabA, tabB]) {
    await eventually(
      async () => {
        const shown = await tab.read();
        assert.deepEqual(
          shown.map((m) => m.body),
          ['Written offline in the first tab', 'Then in the second one'],
        );
        assert.ok(shown.every((m) => m.status === 'sending' || m.status === 'waiting'), 'pending');
      },
      { what: 'both pending messages in both tabs' },
    );
  }

  await profile.context.setOffline(false);
  const sent = [
    { author: 'customer', status: 'sent', body: 'Written offline in the first tab' },
    { author: 'customer', status: 'sent', body: 'Then in the second one' },
  ];
  await tabA.waitForMessages(sent);
  await tabB.waitForMessages(sent);
  const conversations = await world.server.listConversations();
  assert.equal(conversations.length, 1, 'one conversation, started by one tab');
  const { messages } = await world.server.getConversation(conversations[0].conversation.id);
  assert.deepEqual(
    messages.map((m) => m.body),
    ['Written offline in the first tab', 'Then in the second one'],
    'each message stored once, in the order written',
  );
});

scenario('when the leading tab stops running script, a visible tab takes over the stream and the outbox', async (world) => {
  const profile = await world.launchProfile('customer');
  const pageA = await profile.open(world.hostPage('/'));
  const tabA = new Messenger(pageA);
  await tabA.open();
  await tabA.send('Hello');
  await tabA.waitForMessages([{ author: 'customer', status: 'sent', body: 'Hello' }]);
  const conversation = await world.server.onlyConversation();
  const pageB = await profile.open(world.hostPage('/other'));
  const tabB = new Messenger(pageB);
  await tabB.open();
  await tabB.waitForMessages([{ author: 'customer', status: 'sent', body: 'Hello' }]);
  const streamsOf = (page) => [...profile.openStreams].filter((request) => request.frame().page() === page).length;
  assert.equal(streamsOf(pageA), 1, 'the first tab leads');
  assert.equal(streamsOf(pageB), 0, 'the second follows');

  // The leader's tab stops running script, as a tab frozen in the
  // background does (it keeps its lock): here its page is paused in the
  // debugger, so it relays nothing more.
  const cdp = await profile.context.newCDPSession(pageA);
  await cdp.send('Debugger.enable');
  await cdp.send('Debugger.pause');
  await world.server.reply(conversation.id, 'Sent while the leader sleeps');
  await tabB.send('Written while the leader sleeps');
  // The follower waits out the leader's silence (45 s), then leads itself.
  await tabB.waitForMessages(
    [
      { author: 'customer', status: 'sent', body: 'Hello' },
      { author: 'agent', body: 'Sent while the leader sleeps' },
      { author: 'customer', status: 'sent', body: 'Written while the leader sleeps' },
    ],
    { timeout: 75_000 },
  );
  assert.equal(streamsOf(pageB), 1, 'the second tab holds a stream now');
  await cdp.send('Debugger.resume');
});
