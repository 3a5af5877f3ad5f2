// Identity verification from the customer's side: a site's backend signs the
// user's id (HS256 JWT with the site's secret), the page passes it through
// Messenger('identify'), and the panel shows that user's conversations on any
// device. Bad or expired signatures are refused; an anonymous conversation
// joins the account only when the user clicks "Add"; reset leaves nothing of
// the previous user on a shared computer.

import assert from 'node:assert/strict';

import { eventually, scenario } from './support.mjs';
import { Panel, Sites, messengerKeys, signIdentity, sitePage } from './support-widget.mjs';

/** Console warnings of a page (the loader reports refused identify calls there). */
function warnings(page) {
  const seen = [];
  page.on('console', (message) => {
    if (message.type() === 'warning') seen.push(message.text());
  });
  return seen;
}

/** The host page's identify call, made now. */
const identify = (page, jwt) => page.evaluate((token) => window.Messenger('identify', { token }), jwt);

const identifyCall = (jwt) => `Messenger('identify', ${JSON.stringify({ token: jwt })});`;

scenario('a verified user sees the same history in two browser profiles', async (world) => {
  const sites = new Sites(world);
  const { site, secret } = await sites.create({ name: 'Acme' });

  const laptop = await world.launchProfile('laptop');
  const onLaptop = new Panel(
    await laptop.open(sitePage(world, '/app', site.key, { calls: identifyCall(signIdentity(secret, { sub: 'user-42', name: 'Ada' })) })),
  );
  await onLaptop.open();
  await onLaptop.send('Where is my order?');
  await onLaptop.waitForMessages([{ author: 'customer', body: 'Where is my order?', status: 'sent' }]);
  const [listed] = await world.server.listConversations();
  await world.server.reply(listed.conversation.id, 'It ships today, Ada.');
  await onLaptop.waitForMessages([
    { author: 'customer', body: 'Where is my order?' },
    { author: 'agent', body: 'It ships today, Ada.' },
  ]);

  // Another device: a fresh profile, a fresh token from the site's backend.
  const phone = await world.launchProfile('phone');
  const onPhone = new Panel(
    await phone.open(sitePage(world, '/app', site.key, { calls: identifyCall(signIdentity(secret, { sub: 'user-42' })) })),
  );
  await onPhone.open();
  await onPhone.waitForMessages([
    { author: 'customer', body: 'Where is my order?' },
    { author: 'agent', body: 'It ships today, Ada.' },
  ]);
  // And it is the same conversation: what the phone writes, the laptop sees.
  await onPhone.send('Thanks!');
  await onLaptop.waitForMessages([
    { author: 'customer', body: 'Where is my order?' },
    { author: 'agent', body: 'It ships today, Ada.' },
    { author: 'customer', body: 'Thanks!' },
  ]);
});

scenario('a bad signature and an expired token are refused and show nothing of the user', async (world) => {
  const sites = new Sites(world);
  const { site, secret } = await sites.create({ name: 'Acme' });
  // The user has a history on this site.
  const owner = await world.launchProfile('owner');
  const ownPanel = new Panel(
    await owner.open(sitePage(world, '/app', site.key, { calls: identifyCall(signIdentity(secret, { sub: 'user-7' })) })),
  );
  await ownPanel.open();
  await ownPanel.send('My private question');
  await ownPanel.waitForMessages([{ author: 'customer', body: 'My private question', status: 'sent' }]);

  const now = Math.floor(Date.now() / 1000);
  const forgeries = [
    ['identity_invalid', signIdentity('not-the-site-secret-at-all', { sub: 'user-7' })],
    ['identity_expired', signIdentity(secret, { sub: 'user-7', iat: now - 7200, exp: now - 3600 })],
  ];
  for (const [code, jwt] of forgeries) {
    const stranger = await world.launchProfile(`stranger-${code}`);
    const page = await stranger.open(sitePage(world, '/app', site.key));
    const warned = warnings(page);
    const panel = new Panel(page);
    await panel.open();
    await identify(page, jwt);
    await eventually(() => assert.ok(warned.some((w) => w.includes(code)), `warnings: ${JSON.stringify(warned)}`), {
      what: `identify to be reported refused (${code})`,
    });
    await stranger.settled();
    assert.deepEqual(await panel.read(), [], 'no message of the user');
    assert.ok(await panel.yourConversations.isHidden(), 'no list of conversations');
    assert.equal(await panel.frame.getByText('My private question').count(), 0);
  }
});

scenario('an anonymous conversation joins the account only when the user clicks Add', async (world) => {
  const sites = new Sites(world);
  const { site, secret } = await sites.create({ name: 'Acme' });
  // The user's own conversation, from another device.
  const other = await world.launchProfile('other-device');
  const onOther = new Panel(
    await other.open(sitePage(world, '/app', site.key, { calls: identifyCall(signIdentity(secret, { sub: 'user-9' })) })),
  );
  await onOther.open();
  await onOther.send('Signed-in question');
  await onOther.waitForMessages([{ author: 'customer', body: 'Signed-in question', status: 'sent' }]);

  // On this device they wrote before signing in.
  const device = await world.launchProfile('device');
  const page = await device.open(sitePage(world, '/app', site.key));
  const panel = new Panel(page);
  await panel.open();
  await panel.send('Question before signing in');
  await panel.waitForMessages([{ author: 'customer', body: 'Question before signing in', status: 'sent' }]);

  // Signing in: their account's conversation shows, and the earlier one is
  // offered, not moved.
  await identify(page, signIdentity(secret, { sub: 'user-9' }));
  await panel.waitForMessages([{ author: 'customer', body: 'Signed-in question' }]);
  await panel.claimCard.waitFor({ state: 'visible' });
  await panel.yourConversations.click();
  await eventually(async () =>
    assert.deepEqual((await panel.listedConversations()).map((c) => c.preview), ['Signed-in question']),
  );
  await panel.frame.locator('[data-testid=list-back]').click();

  await panel.claimAdd.click();
  await panel.claimCard.waitFor({ state: 'hidden' });
  await panel.waitForMessages([{ author: 'customer', body: 'Question before signing in' }]);
  await panel.yourConversations.click();
  await eventually(async () =>
    assert.deepEqual(
      (await panel.listedConversations()).map((c) => c.preview).sort(),
      ['Question before signing in', 'Signed-in question'],
    ),
  );
  // The other device sees it too, in the same account.
  await onOther.yourConversations.click();
  await eventually(async () => assert.equal((await onOther.listedConversations()).length, 2));

  // "Not now" on another device leaves the anonymous conversation alone.
  const kiosk = await world.launchProfile('kiosk');
  const kioskPage = await kiosk.open(sitePage(world, '/app', site.key));
  const kioskPanel = new Panel(kioskPage);
  await kioskPanel.open();
  await kioskPanel.send('Kiosk question');
  await kioskPanel.waitForMessages([{ author: 'customer', body: 'Kiosk question', status: 'sent' }]);
  await identify(kioskPage, signIdentity(secret, { sub: 'user-9' }));
  await kioskPanel.claimLater.click();
  await kioskPanel.claimCard.waitFor({ state: 'hidden' });
  await kioskPanel.yourConversations.click();
  await eventually(async () => assert.equal((await kioskPanel.listedConversations()).length, 2));
  assert.equal(await kioskPanel.conversationItems.filter({ hasText: 'Kiosk question' }).count(), 0);
});

scenario('after reset the next person on the same profile sees nothing of the previous user', async (world) => {
  const sites = new Sites(world);
  const { site, secret } = await sites.create({ name: 'Acme' });
  const shared = await world.launchProfile('shared-computer');
  const page = await shared.open(
    sitePage(world, '/app', site.key, { calls: identifyCall(signIdentity(secret, { sub: 'user-1' })) }),
  );
  const panel = new Panel(page);
  await panel.open();
  await panel.send('Private matter of user 1');
  await panel.waitForMessages([{ author: 'customer', body: 'Private matter of user 1', status: 'sent' }]);
  await panel.yourConversations.waitFor({ state: 'visible' });
  assert.ok((await messengerKeys(page)).length > 0, 'the conversation was stored');
  const token = await page.evaluate(() => /mwc_[\w-]+/.exec(Object.values(localStorage).join(' '))?.[0]);
  assert.ok(token, 'the device token is in localStorage');
  // A second tab of the same user, signed in on its own page view.
  const otherTab = await shared.open(
    sitePage(world, '/app', site.key, { calls: identifyCall(signIdentity(secret, { sub: 'user-1' })) }),
  );
  const otherPanel = new Panel(otherTab);
  await otherPanel.open();
  await otherPanel.waitForMessages([{ author: 'customer', body: 'Private matter of user 1', status: 'sent' }]);

  // Logout.
  await page.evaluate(() => window.Messenger('reset'));
  await eventually(async () => assert.deepEqual(await messengerKeys(page), []), {
    what: 'every messenger key to leave localStorage',
  });
  // The server forgot the device token.
  const forgotten = await fetch(`${world.server.origin}/api/v1/customer`, {
    headers: { authorization: `Bearer ${token}`, 'x-messenger-site': site.key },
  });
  assert.equal(forgotten.status, 401, 'the reset token no longer opens anything');
  // The other tab follows, and does not sign the previous user in again.
  await eventually(async () => assert.equal(await otherPanel.frame.getByText('Private matter of user 1').count(), 0), {
    what: 'the other tab to drop the conversation',
  });
  await shared.settled();
  assert.deepEqual(await messengerKeys(page), [], 'no tab stored a token again');
  assert.equal(await otherPanel.frame.getByText('Private matter of user 1').count(), 0);
  await otherTab.close();
  await panel.open();
  await shared.settled();
  assert.deepEqual(await panel.read(), []);
  assert.ok(await panel.yourConversations.isHidden(), 'no conversations list');
  assert.equal(await panel.frame.getByText('Private matter of user 1').count(), 0);

  // The next person, on the site's public page (no identify).
  await page.goto(sitePage(world, '/public', site.key));
  const next = new Panel(page);
  await next.open();
  await shared.settled();
  assert.deepEqual(await next.read(), []);
  assert.ok(await next.yourConversations.isHidden());
  assert.deepEqual(await messengerKeys(page), []);
});
