// The agents' inbox at /inbox/: an agent signs in with the account made by
// `messenger-server create-admin` (the HttpOnly session cookie, which script
// cannot read); conversations arrive and change live; agents answer, close,
// assign and write internal notes that never reach the customer.

import assert from 'node:assert/strict';
import { Inbox, Messenger, eventually, scenario } from './support.mjs';

scenario('an admin signs in to the inbox, stays signed in across a reload, and signs out', async (world) => {
  const admin = await world.createAdmin({ name: 'Ada Lovelace' });
  const profile = await world.launchProfile('agent');
  const inbox = new Inbox(await profile.open('about:blank'), world.server.origin);
  await inbox.open();

  // A wrong password is refused with a plain message, and nothing is kept.
  await inbox.attemptSignIn({ email: admin.email, password: 'not the password at all' });
  await assert.doesNotReject(() => inbox.error.getByText('Wrong email or password.').waitFor());
  assert.equal(await inbox.password.inputValue(), '', 'the wrong password is cleared');

  await inbox.signIn(admin);
  await inbox.signedInAs.waitFor();
  assert.match(await inbox.signedInAs.innerText(), /Ada Lovelace\s*admin/);
  const cookies = await profile.context.cookies(world.server.origin);
  const session = cookies.find((c) => c.name === 'mw_session');
  assert.ok(session, 'a session cookie is set');
  assert.equal(session.httpOnly, true, 'script cannot read it');
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await inbox.page.evaluate(() => document.cookie), '', 'no cookie is visible to script');

  await inbox.page.reload();
  await inbox.signedInAs.waitFor();

  await inbox.signOutButton.click();
  await inbox.email.waitFor();
  await inbox.page.reload();
  await inbox.email.waitFor();
  assert.equal(await inbox.signedInAs.count(), 0, 'signed out for good');
});

/** A customer in their own browser profile who writes `text`. */
async function customerWrites(world, name, text, path = '/') {
  const profile = await world.launchProfile(name);
  const page = await profile.open(world.hostPage(path));
  const messenger = new Messenger(page);
  await messenger.open();
  await messenger.send(text);
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: text }]);
  return { profile, page, messenger };
}

/** The id of the conversation whose latest message is `body`. */
async function conversationWith(world, body) {
  const conversations = await world.server.listConversations();
  const found = conversations.find((c) => c.last_message?.body === body);
  assert.ok(found, `a conversation ending with "${body}"`);
  return found.conversation.id;
}

scenario('a conversation arrives live with an unread mark, is answered, closed, and reopens at the top when the customer writes again', async (world) => {
  const admin = await world.createAdmin();
  const inbox = new Inbox(await (await world.launchProfile('agent')).open('about:blank'), world.server.origin);
  await inbox.open();
  await inbox.signIn(admin);

  // Another customer, already answered: not waiting on us.
  await customerWrites(world, 'earlier-customer', 'I found it, thanks');
  const answered = await conversationWith(world, 'I found it, thanks');
  await world.server.reply(answered, 'Glad to hear it');

  const customer = await customerWrites(world, 'customer', 'Where is my order?');
  const id = await conversationWith(world, 'Where is my order?');
  // Live, without a reload: the new conversation, unread, first in the list.
  await eventually(async () => assert.equal(await inbox.row(id).getAttribute('data-unread'), '1'), {
    what: 'the new conversation to appear with one unread message',
  });
  assert.deepEqual((await inbox.listed())[0], id, 'waiting on us: first');

  await inbox.row(id).click();
  await inbox.history.getByText('Where is my order?').waitFor();
  await eventually(async () => assert.equal(await inbox.row(id).getAttribute('data-unread'), '0'), {
    what: 'opening it to clear the unread mark',
  });
  await inbox.reply('It ships today.');
  await customer.messenger.waitForMessages([
    { author: 'customer', body: 'Where is my order?' },
    { author: 'agent', body: 'It ships today.' },
  ]);

  await inbox.statusToggle.click();
  await eventually(async () => assert.equal(await inbox.viewStatus.innerText(), 'closed'));
  await eventually(async () => assert.equal(await inbox.row(id).count(), 0), {
    what: 'the closed conversation to leave the open list',
  });

  await customer.messenger.send('One more question');
  await eventually(async () => assert.deepEqual((await inbox.listed())[0], id), {
    what: 'the reopened conversation at the top of the open list',
  });
  assert.equal(await inbox.row(id).getAttribute('data-status'), 'open');
  assert.ok((await inbox.listed()).includes(answered), 'the other conversation is still listed, below');
});

scenario('one agent assigns a conversation to herself and another agent sees it live', async (world) => {
  const ada = await world.createAdmin({ email: 'ada@example.com', name: 'Ada' });
  const grace = await world.createAdmin({ email: 'grace@example.com', name: 'Grace' });
  const adaInbox = new Inbox(await (await world.launchProfile('ada')).open('about:blank'), world.server.origin);
  const graceInbox = new Inbox(await (await world.launchProfile('grace')).open('about:blank'), world.server.origin);
  await adaInbox.open();
  await adaInbox.signIn(ada);
  await graceInbox.open();
  await graceInbox.signIn(grace);

  await customerWrites(world, 'customer', 'Can someone help?');
  const id = await conversationWith(world, 'Can someone help?');
  await adaInbox.row(id).waitFor();
  await graceInbox.row(id).waitFor();
  assert.equal(await graceInbox.row(id).getAttribute('data-assignee'), '');

  await adaInbox.row(id).click();
  await adaInbox.assignToggle.getByText('Assign to me').click();
  await adaInbox.page.getByTestId('view-assignee').getByText('Assigned to Ada').waitFor();
  await eventually(async () => assert.equal(await graceInbox.row(id).getAttribute('data-assignee'), 'Ada'), {
    what: "Grace's list to show Ada's assignment without a reload",
  });
});

scenario('internal notes reach every agent and never the customer, in the widget or through the customer API', async (world) => {
  const admin = await world.createAdmin();
  const inbox = new Inbox(await (await world.launchProfile('agent')).open('about:blank'), world.server.origin);
  await inbox.open();
  await inbox.signIn(admin);
  const customer = await customerWrites(world, 'customer', 'My parcel is damaged');
  const id = await conversationWith(world, 'My parcel is damaged');
  await inbox.row(id).click();
  await inbox.history.getByText('My parcel is damaged').waitFor();

  await inbox.note('Customer since 2019, offer a refund');
  // A reply after the note: once the widget shows it, it has had every
  // event the note could have come with.
  await inbox.reply('Sorry about that! A refund is on its way.');
  await customer.messenger.waitForMessages([
    { author: 'customer', body: 'My parcel is damaged' },
    { author: 'agent', body: 'Sorry about that! A refund is on its way.' },
  ]);
  const frameText = await customer.messenger.panel.innerText();
  assert.ok(!frameText.includes('offer a refund'), 'the widget never shows the note');

  // Nor does the customer API, with the customer's own token.
  const stored = await customer.messenger.storedConversation(world.server.origin);
  const response = await fetch(`${world.server.origin}/api/v1/conversation`, {
    headers: { authorization: `Bearer ${stored.token}` },
  });
  const body = await response.text();
  assert.equal(response.status, 200);
  assert.ok(!body.includes('offer a refund'), 'the customer API never returns the note');
  assert.ok(body.includes('A refund is on its way'));

  // A message arriving while the agent writes changes nothing in the composer.
  await inbox.replyMode.click();
  await inbox.composer.fill('Half-written answer');
  await customer.messenger.send('Thank you!');
  await inbox.history.getByText('Thank you!').waitFor();
  assert.equal(await inbox.composer.inputValue(), 'Half-written answer', 'the draft survives live updates');

  // The note stays in the inbox after a reload.
  await inbox.page.reload();
  await inbox.live.getByText('Live').waitFor();
  await inbox.row(id).click();
  await inbox.page.getByTestId('history-note').getByText('Customer since 2019, offer a refund').waitFor();
});

scenario('the main flow works from the keyboard, and ? lists the shortcuts', async (world) => {
  const admin = await world.createAdmin();
  const inbox = new Inbox(await (await world.launchProfile('agent')).open('about:blank'), world.server.origin);
  await inbox.open();
  await inbox.signIn(admin);
  await customerWrites(world, 'first', 'First question');
  await customerWrites(world, 'second', 'Second question');
  await eventually(async () => assert.equal((await inbox.listed()).length, 2), { what: 'both conversations' });
  const [first, second] = await inbox.listed();
  const page = inbox.page;

  await page.keyboard.press('?');
  const help = page.getByTestId('help');
  await help.waitFor();
  for (const line of ['Next conversation', 'Previous conversation', 'Write a reply', 'Close or reopen the conversation']) {
    await help.getByText(line).waitFor();
  }
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'detached' });

  const current = () => page.locator('[data-testid=conversation-item][aria-current=true]').getAttribute('data-id');
  await page.keyboard.press('j');
  await eventually(async () => assert.equal(await current(), first));
  await page.keyboard.press('j');
  await eventually(async () => assert.equal(await current(), second));
  await page.keyboard.press('k');
  await eventually(async () => assert.equal(await current(), first));
  await inbox.history.getByText('First question').waitFor();

  await page.keyboard.press('r');
  assert.equal(await inbox.composer.evaluate((el) => el === document.activeElement), true, 'r puts the cursor in the reply');
  await inbox.composer.fill('Answered from the keyboard');
  await page.keyboard.press('Control+Enter');
  await inbox.history.getByText('Answered from the keyboard').waitFor();

  await inbox.composer.evaluate((el) => el.blur());
  await page.keyboard.press('c');
  await eventually(async () => assert.equal(await inbox.viewStatus.innerText(), 'closed'));
});

scenario('search narrows the list to conversations with a word in their messages', async (world) => {
  const admin = await world.createAdmin();
  const inbox = new Inbox(await (await world.launchProfile('agent')).open('about:blank'), world.server.origin);
  await inbox.open();
  await inbox.signIn(admin);
  await customerWrites(world, 'first', 'My parcel never arrived');
  await customerWrites(world, 'second', 'How do I change my password?');
  await eventually(async () => assert.equal((await inbox.listed()).length, 2), { what: 'both conversations' });
  const parcel = await conversationWith(world, 'My parcel never arrived');

  await inbox.page.getByTestId('search').fill('parcel');
  await inbox.page.getByTestId('search').press('Enter');
  await eventually(async () => assert.deepEqual(await inbox.listed(), [parcel]), { what: 'only the parcel conversation' });

  await inbox.page.getByTestId('search').fill('');
  await inbox.page.getByTestId('search').press('Enter');
  await eventually(async () => assert.equal((await inbox.listed()).length, 2), { what: 'both again' });
});

scenario('an admin adds an agent in Settings, who signs in and can be given a conversation; disabling her signs her out', async (world) => {
  const admin = await world.createAdmin({ email: 'ada@example.com', name: 'Ada' });
  const adaInbox = new Inbox(await (await world.launchProfile('ada')).open('about:blank'), world.server.origin);
  await adaInbox.open();
  await adaInbox.signIn(admin);

  const page = adaInbox.page;
  await page.getByTestId('open-settings').click();
  const team = page.getByTestId('team');
  await team.getByLabel('Name').fill('Grace Hopper');
  await team.getByLabel('Email').fill('grace@example.com');
  await team.getByLabel('First password (12 characters or more)').fill('a long first password');
  await team.getByRole('button', { name: 'Add agent' }).click();
  await team.locator('[data-testid=team-member][data-email="grace@example.com"]').getByText('active').waitFor();

  const graceInbox = new Inbox(await (await world.launchProfile('grace')).open('about:blank'), world.server.origin);
  await graceInbox.open();
  await graceInbox.signIn({ email: 'grace@example.com', password: 'a long first password' });
  assert.match(await graceInbox.signedInAs.innerText(), /Grace Hopper\s*agent/);

  // Ada hands a conversation to Grace, who sees it assigned to her.
  await customerWrites(world, 'customer', 'Question for the team');
  const id = await conversationWith(world, 'Question for the team');
  await page.getByTestId('open-settings').click();
  await adaInbox.row(id).click();
  await adaInbox.page.getByTestId('assign-other').selectOption({ label: 'Grace Hopper' });
  await eventually(async () => assert.equal(await graceInbox.row(id).getAttribute('data-assignee'), 'Grace Hopper'), {
    what: "Grace's list to show the conversation assigned to her",
  });

  // Disabled, Grace is signed out at once: her live stream is closed.
  await page.getByTestId('open-settings').click();
  const grace = team.locator('[data-testid=team-member][data-email="grace@example.com"]');
  await grace.getByRole('button', { name: 'Disable' }).click();
  await grace.getByText('disabled').waitFor();
  await graceInbox.email.waitFor({ timeout: 30_000 });
  await graceInbox.attemptSignIn({ email: 'grace@example.com', password: 'a long first password' });
  await graceInbox.error.getByText('Wrong email or password.').waitFor();
});

scenario('an admin creates an API key shown once, an integration uses it, and revoking it locks the integration out', async (world) => {
  const admin = await world.createAdmin();
  const inbox = new Inbox(await (await world.launchProfile('admin')).open('about:blank'), world.server.origin);
  await inbox.open();
  await inbox.signIn(admin);
  const page = inbox.page;
  await page.getByTestId('open-settings').click();
  const keys = page.getByTestId('api-keys');
  await keys.getByLabel('New key for').fill('CRM sync');
  await keys.getByRole('button', { name: 'Create key' }).click();
  const secret = await keys.getByTestId('api-key-secret').innerText();
  assert.match(secret, /^mwk_[A-Za-z0-9_-]{43}$/);

  const agentApi = (key) =>
    fetch(`${world.server.origin}/api/v1/agent/conversations`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal((await agentApi(secret)).status, 200, 'the new key works on the agent API');

  // Shown once: gone after "Done", and the key list never holds it.
  await keys.getByRole('button', { name: 'Done' }).click();
  await keys.getByTestId('api-key-secret').waitFor({ state: 'detached' });
  const listed = await page.evaluate(async () => (await fetch('/api/v1/inbox/api-keys')).text());
  assert.ok(!listed.includes(secret), 'the key list never carries the secret');

  const row = keys.locator('[data-testid=api-key][data-name="CRM sync"]');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByText('revoked').waitFor();
  assert.equal((await agentApi(secret)).status, 401, 'a revoked key is refused at once');
});

scenario('outside business hours the widget says when the team is back and a customer writing twice gets one away reply', async (world) => {
  const admin = await world.createAdmin();
  const inbox = new Inbox(await (await world.launchProfile('admin')).open('about:blank'), world.server.origin);
  await inbox.open();
  await inbox.signIn(admin);
  const page = inbox.page;
  await page.getByTestId('open-settings').click();
  const hours = page.getByTestId('hours');
  await hours.getByLabel('Time zone').fill('UTC');
  for (const day of ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']) {
    await hours.locator(`[name=${day}-open]`).check();
    await hours.locator(`[name=${day}-start]`).fill('00:00');
    await hours.locator(`[name=${day}-end]`).fill('23:59');
  }
  // Open every day, but today is a holiday: away until tomorrow.
  const today = new Date().toISOString().slice(0, 10);
  await hours.locator('[name=holidays]').fill(today);
  await hours.locator('[name=expected]').fill('30');
  await hours.locator('[name=greeting]').fill('Hello from Acme!');
  await hours.locator('[name=away]').fill('We are off today and back tomorrow.');
  await hours.getByRole('button', { name: 'Save' }).click();
  await hours.getByText('Saved.').waitFor();

  // The customer is in Tokyo: tomorrow 00:00 UTC is 09:00 there, named by
  // its weekday unless it is already that day in Tokyo.
  const zone = 'Asia/Tokyo';
  const profile = await world.launchProfile('customer', { timezoneId: zone, locale: 'en-US' });
  const customerPage = await profile.open(world.hostPage('/'));
  const messenger = new Messenger(customerPage);
  await messenger.open();
  const expectation = messenger.frame.locator('[data-testid=expectation]');
  const reopens = new Date(`${today}T00:00:00Z`).getTime() + 24 * 3600 * 1000;
  const dayIn = (ms) => new Date(ms).toLocaleDateString('en-CA', { timeZone: zone });
  const when = dayIn(reopens) === dayIn(Date.now())
    ? '09:00'
    : `${new Date(reopens).toLocaleDateString('en-US', { weekday: 'long', timeZone: zone })} 09:00`;
  await expectation.getByText(`We're away; we'll answer from ${when}`, { exact: true }).waitFor();
  await messenger.frame.locator('[data-testid=greeting]').getByText('Hello from Acme!').waitFor();

  await messenger.send('Is anyone there?');
  await messenger.waitForMessages([
    { author: 'customer', body: 'Is anyone there?' },
    { author: 'bot', body: 'We are off today and back tomorrow.' },
  ]);
  await messenger.send('Please call me back');
  await messenger.waitForMessages([
    { author: 'customer', body: 'Is anyone there?' },
    { author: 'bot', body: 'We are off today and back tomorrow.' },
    { author: 'customer', body: 'Please call me back' },
  ]);
  const conversation = await world.server.onlyConversation();
  const { messages } = await world.server.getConversation(conversation.id);
  assert.equal(messages.filter((m) => m.author === 'bot').length, 1, 'one away reply per away period');

  // Back in hours (no holiday): the widget tells how soon we usually reply.
  await hours.locator('[name=holidays]').fill('');
  await hours.getByRole('button', { name: 'Save' }).click();
  await hours.getByText('Saved.').waitFor();
  await customerPage.reload();
  await messenger.open();
  await expectation.getByText('We usually reply in about 30 minutes').waitFor();
});
