// axe-core (WCAG 2.0/2.1/2.2 A and AA rules) on the widget: the host page with
// the widget closed (the launcher lives in an open shadow root), and the open
// panel's frame with messages both ways, cards and the list. With the default
// blue and with a light brand colour, so the text colour is picked for
// contrast. Also: new replies are announced politely, history is not.

import assert from 'node:assert/strict';

import { eventually, scenario } from './support.mjs';
import { Panel, Sites, axeViolations, sitePage } from './support-widget.mjs';

function noViolations(violations, where) {
  assert.equal(violations.length, 0, `axe violations ${where}:\n${violations.join('\n')}`);
}

for (const [label, color] of [
  ['the default blue', '#2563eb'],
  ['a light yellow brand colour', '#fde047'],
]) {
  scenario(`axe finds no WCAG 2.2 AA violation in the widget, closed and open, with ${label}`, async (world) => {
    const sites = new Sites(world);
    const { site } = await sites.create({ name: 'Acme', color, greeting: 'Hi! How can we help?' });
    const profile = await world.launchProfile('axe');
    const page = await profile.open(sitePage(world, '/', site.key));
    const panel = new Panel(page);

    // Closed: the host page with the launcher.
    await panel.launcher.waitFor({ state: 'visible' });
    noViolations(await axeViolations(page, 'messenger-widget'), 'on the host page, widget closed');

    // Open, with messages both ways and the email invitation.
    await panel.open();
    await panel.send('I need help with my order');
    await panel.waitForMessages([{ author: 'customer', body: 'I need help with my order', status: 'sent' }]);
    const [latest] = await world.server.listConversations();
    await world.server.reply(latest.conversation.id, 'Happy to help! What is the order number?');
    await panel.waitForMessages([
      { author: 'customer', body: 'I need help with my order' },
      { author: 'agent', body: 'Happy to help! What is the order number?' },
    ]);
    // The reply was announced, once, politely.
    await eventually(async () =>
      assert.equal(await panel.announcer.textContent(), 'New message from Support: Happy to help! What is the order number?'),
    );
    assert.equal(await panel.announcer.getAttribute('aria-live'), 'polite');
    await panel.emailCard.waitFor({ state: 'visible' });
    const frame = await panel.contentFrame();
    noViolations(await axeViolations(frame), 'in the open panel with messages');

    // The list of conversations.
    await panel.yourConversations.click();
    await panel.conversationItems.first().waitFor();
    noViolations(await axeViolations(frame), 'in the list of conversations');

    // Keyboard only: Escape closes the panel and gives the launcher focus.
    await panel.frame.locator('[data-testid=list-back]').click();
    await panel.composer.focus();
    await page.keyboard.press('Escape');
    await panel.frameElement.waitFor({ state: 'hidden' });
    await eventually(async () =>
      assert.equal(await page.evaluate(() => document.activeElement?.tagName.toLowerCase()), 'messenger-widget'),
    );

    // A reload loads history: it is not announced.
    await page.reload();
    const again = new Panel(page);
    await again.open();
    await again.waitForMessages([
      { author: 'customer', body: 'I need help with my order' },
      { author: 'agent', body: 'Happy to help! What is the order number?' },
    ]);
    await profile.settled();
    assert.equal(await again.announcer.textContent(), '', 'history is not read out');
  });
}

scenario('the panel is usable by keyboard alone with a visible focus', async (world) => {
  const sites = new Sites(world);
  const { site } = await sites.create({ name: 'Acme', color: '#fde047' });
  const profile = await world.launchProfile('keyboard');
  const page = await profile.open(sitePage(world, '/', site.key));
  const panel = new Panel(page);
  await panel.launcher.waitFor({ state: 'visible' });
  await panel.launcher.focus();
  await page.keyboard.press('Enter');
  await panel.composer.waitFor({ state: 'visible' });
  await eventually(async () => assert.ok(await panel.composer.evaluate((el) => document.activeElement === el)));
  await page.keyboard.type('Typed with the keyboard');
  await page.keyboard.press('Enter');
  await panel.waitForMessages([{ author: 'customer', body: 'Typed with the keyboard', status: 'sent' }]);
  // Tab reaches the send button, which shows where the focus is.
  await page.keyboard.press('Tab');
  const outline = await panel.sendButton.evaluate((el) => {
    const style = getComputedStyle(el);
    return document.activeElement === el ? `${style.outlineStyle} ${style.outlineWidth}` : 'not focused';
  });
  assert.match(outline, /^solid [1-9]/, `a visible focus ring on the send button: ${outline}`);
});
