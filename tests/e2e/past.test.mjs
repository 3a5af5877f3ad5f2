// A customer's earlier conversations: listed under "Your conversations"
// with a mark for closed ones; opening one shows its history; "New
// conversation" starts another on the first message; writing in a closed
// one reopens it.

import assert from 'node:assert/strict';
import { Messenger, eventually, scenario } from './support.mjs';

const FIRST = 'My order has not arrived';
const REPLY = 'Sorry about that: it ships today.';
const OTHER = 'A new question about returns';
const AGAIN = 'It still has not arrived';

scenario('a customer finds a closed conversation in their list, starts a new one, and reopens the closed one by writing', async (world) => {
  const { server } = world;
  const admin = await world.createAdmin();
  const agent = await server.inboxSignIn(admin);
  const url = world.hostPage('/', { title: 'Acme' });

  const customer = await world.launchProfile('customer');
  const page = await customer.open(url);
  const messenger = new Messenger(page);
  await messenger.open();
  await messenger.send(FIRST);
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: FIRST }]);
  const first = await server.onlyConversation();
  await server.reply(first.id, REPLY);
  await messenger.waitForMessages([
    { author: 'customer', body: FIRST },
    { author: 'agent', body: REPLY },
  ]);
  // The invitation to get replies by email can be closed.
  await messenger.emailCard.waitFor();
  await messenger.frame.locator('[data-testid=email-card-dismiss]').click();
  await messenger.emailCard.waitFor({ state: 'hidden' });
  await server.closeConversation(agent, first.id);
  const firstToken = (await messenger.storedConversation(server.origin)).token;

  // The list shows it, closed.
  await messenger.yourConversations.click();
  await messenger.conversationList.waitFor();
  await eventually(async () =>
    assert.deepEqual(await messenger.listedConversations(), [
      { id: first.id, preview: REPLY, closed: true, unread: null },
    ]),
  { what: 'the closed conversation to be listed' });

  // Opening it shows its history and says it is closed.
  await messenger.openListed(REPLY);
  await messenger.waitForMessages([
    { author: 'customer', body: FIRST },
    { author: 'agent', body: REPLY },
  ]);
  await eventually(async () =>
    assert.equal(await messenger.closedNotice.innerText(), 'This conversation is closed. Write to reopen it.'));

  // A new conversation: empty, and nothing changes until its first message.
  await messenger.yourConversations.click();
  await messenger.newConversation.click();
  await messenger.conversationList.waitFor({ state: 'hidden' });
  await messenger.composer.waitFor();
  assert.deepEqual(await messenger.read(), [], 'a new conversation starts empty');
  assert.equal(await messenger.closedNotice.innerText(), '', 'a new conversation is not closed');
  assert.equal((await messenger.storedConversation(server.origin)).token, firstToken,
    'until its first message the stored conversation stays the earlier one');
  await messenger.send(OTHER);
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: OTHER }]);
  const conversations = await server.listConversations();
  assert.equal(conversations.length, 2, 'the new conversation is a second one');
  const second = conversations.find((c) => c.conversation.id !== first.id).conversation;
  await eventually(async () =>
    assert.notEqual((await messenger.storedConversation(server.origin)).token, firstToken,
      'the host page stores the new conversation'));

  // Both are listed, latest activity first.
  await messenger.yourConversations.click();
  await eventually(async () =>
    assert.deepEqual(await messenger.listedConversations(), [
      { id: second.id, preview: OTHER, closed: false, unread: null },
      { id: first.id, preview: REPLY, closed: true, unread: null },
    ]),
  { what: 'both conversations to be listed' });

  // Writing in the closed one reopens it.
  await messenger.openListed(REPLY);
  await messenger.waitForMessages([
    { author: 'customer', body: FIRST },
    { author: 'agent', body: REPLY },
  ]);
  await eventually(async () => assert.notEqual(await messenger.closedNotice.innerText(), ''));
  await messenger.send(AGAIN);
  await messenger.waitForMessages([
    { author: 'customer', body: FIRST },
    { author: 'agent', body: REPLY },
    { author: 'customer', status: 'sent', body: AGAIN },
  ]);
  await eventually(async () => assert.equal(await messenger.closedNotice.innerText(), ''),
    { what: 'the closed notice to go' });
  await eventually(async () => assert.equal(await server.conversationStatus(agent, first.id), 'open'),
    { what: 'the inbox to see the conversation open again' });

  // A reload returns to the conversation chosen last.
  await page.reload();
  await messenger.open();
  await messenger.waitForMessages([
    { author: 'customer', body: FIRST },
    { author: 'agent', body: REPLY },
    { author: 'customer', body: AGAIN },
  ]);
});
