// Read receipts and typing notices, both ways: the customer sees "Seen" once
// an agent has read their message and "typing…" while an agent writes; the
// agents see how far the customer has read (only what the open panel showed)
// and a typing notice while the customer writes.

import assert from 'node:assert/strict';
import { Messenger, eventually, scenario } from './support.mjs';

async function startConversation(world) {
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(page);
  await messenger.open();
  await messenger.send('Can you check my order?');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Can you check my order?' }]);
  const conversation = await world.server.onlyConversation();
  return { profile, page, messenger, conversationId: conversation.id };
}

/** How far the server says the customer has read. */
async function customerReadSeq(server, conversationId) {
  return (await server.getConversation(conversationId)).conversation.customer_read_seq;
}

scenario('the customer sees when an agent has read their message, and the agent sees what the customer has read', async (world) => {
  const { messenger, conversationId } = await startConversation(world);
  assert.equal(await messenger.delivery(0).count(), 0, 'not "Seen" before an agent reads it');

  await world.server.markRead(conversationId, 1);
  await eventually(async () => assert.equal((await messenger.read())[0].status, 'seen'), {
    what: 'the message to show as seen',
  });
  assert.equal(await messenger.delivery(0).innerText(), 'Seen');

  // A reply shown in the open panel counts as read by the customer.
  await world.server.reply(conversationId, 'Looking into it now');
  await messenger.waitForMessages([
    { author: 'customer', body: 'Can you check my order?' },
    { author: 'agent', body: 'Looking into it now' },
  ]);
  await eventually(async () => assert.equal(await customerReadSeq(world.server, conversationId), 2), {
    what: 'the server to learn the customer read the reply',
  });

  // One that arrives while the panel is closed is unread until it is opened.
  await messenger.close();
  await world.server.reply(conversationId, 'Found it: it ships today');
  await eventually(async () => assert.equal(await messenger.unreadBadge.textContent(), '1'), {
    what: 'the unread badge',
  });
  assert.equal(await customerReadSeq(world.server, conversationId), 2, 'a closed panel reads nothing');
  await messenger.open();
  await eventually(async () => assert.equal(await customerReadSeq(world.server, conversationId), 3), {
    what: 'opening the panel to mark the reply read',
  });

  // "Seen" moves to the latest message an agent has read.
  await messenger.send('Great, thanks!');
  await messenger.waitForMessages([
    { author: 'customer', body: 'Can you check my order?' },
    { author: 'agent', body: 'Looking into it now' },
    { author: 'agent', body: 'Found it: it ships today' },
    { author: 'customer', status: 'sent', body: 'Great, thanks!' },
  ]);
  await world.server.markRead(conversationId, 4);
  await eventually(
    async () => assert.deepEqual((await messenger.read()).map((m) => m.status), ['sent', null, null, 'seen']),
    { what: '"Seen" under the latest message' },
  );
});

scenario('typing shows in both directions and stops with the reply', async (world) => {
  const { messenger, conversationId } = await startConversation(world);
  const agentStream = await world.server.agentEvents();
  try {
    // The customer types: the agents hear about it (throttled, not per key).
    await messenger.composer.pressSequentially('I also wanted to ask');
    await eventually(
      () =>
        assert.ok(
          agentStream.events.some(
            (e) => e.event === 'typing' && e.data.conversation_id === conversationId && e.data.author === 'customer',
          ),
        ),
      { what: "the agent stream to carry the customer's typing" },
    );
    const notices = agentStream.events.filter((e) => e.event === 'typing').length;
    assert.ok(notices <= 2, `typing is throttled (${notices} notices for 20 keystrokes)`);

    // An agent types: the panel says so until the reply arrives.
    assert.equal(await messenger.typing.isVisible(), false);
    await world.server.agentTyping(conversationId);
    await messenger.typing.waitFor({ state: 'visible' });
    assert.match(await messenger.typing.innerText(), /typing/i);
    await world.server.reply(conversationId, 'Sure, ask away');
    await messenger.typing.waitFor({ state: 'hidden' });
    await messenger.waitForMessages([
      { author: 'customer', body: 'Can you check my order?' },
      { author: 'agent', body: 'Sure, ask away' },
    ]);

    // A notice that is not repeated fades by itself. (The server drops
    // notices closer together than its typing interval: repeat until one
    // gets through.)
    await eventually(
      async () => {
        await world.server.agentTyping(conversationId);
        assert.equal(await messenger.typing.isVisible(), true);
      },
      { interval: 500, what: 'a second typing notice to show' },
    );
    await messenger.typing.waitFor({ state: 'hidden', timeout: 10_000 });
  } finally {
    agentStream.close();
  }
});
