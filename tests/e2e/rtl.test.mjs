// Right-to-left: an Arabic-speaking browser gets the panel in Arabic with
// <html dir=rtl lang=ar>, and the layout mirrors: the customer's bubbles and
// the send button move to the other side than in English. Screenshots of both
// runs are kept under tests/e2e/test-results.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { REPO_ROOT, scenario } from './support.mjs';
import { Panel, Sites, sitePage } from './support-widget.mjs';

const RESULTS = join(REPO_ROOT, 'tests/e2e/test-results');

/** Where things are, in the frame's own coordinates. */
async function layout(panel) {
  const frame = await panel.contentFrame();
  return frame.evaluate(() => {
    const box = (el) => {
      const r = el.getBoundingClientRect();
      return { left: r.left, right: r.right, center: (r.left + r.right) / 2 };
    };
    const bubble = (author) => box(document.querySelector(`[data-testid=message][data-author=${author}] .body`));
    return {
      width: document.documentElement.clientWidth,
      input: box(document.querySelector('[data-testid=composer-input]')),
      send: box(document.querySelector('[data-testid=send]')),
      customer: bubble('customer'),
      agent: bubble('agent'),
    };
  });
}

/** A conversation with one message each way, shown in `profile`'s panel. */
async function conversation(world, profile, key, { customer, agent }) {
  const panel = new Panel(await profile.open(sitePage(world, '/', key)));
  await panel.open();
  await panel.send(customer);
  await panel.waitForMessages([{ author: 'customer', body: customer, status: 'sent' }]);
  // The most recently active conversation: the one just written to.
  const [latest] = await world.server.listConversations();
  await world.server.reply(latest.conversation.id, agent);
  await panel.waitForMessages([
    { author: 'customer', body: customer },
    { author: 'agent', body: agent },
  ]);
  return panel;
}

scenario('Arabic is right to left and mirrors the panel', async (world) => {
  const sites = new Sites(world);
  const { site } = await sites.create({ name: 'Acme', default_language: 'en' });
  await mkdir(RESULTS, { recursive: true });

  const english = await conversation(world, await world.launchProfile('english', { locale: 'en-US' }), site.key, {
    customer: 'Hello',
    agent: 'Hi there',
  });
  assert.equal(await english.html.getAttribute('dir'), 'ltr');
  const ltr = await layout(english);
  await english.frameElement.screenshot({ path: join(RESULTS, 'rtl-english.png') });

  const arabic = await conversation(world, await world.launchProfile('arabic', { locale: 'ar' }), site.key, {
    customer: 'مرحبا',
    agent: 'أهلا وسهلا',
  });
  assert.equal(await arabic.html.getAttribute('dir'), 'rtl');
  assert.equal(await arabic.html.getAttribute('lang'), 'ar');
  assert.equal(await arabic.composer.getAttribute('placeholder'), 'اكتب رسالة…');
  const rtl = await layout(arabic);
  await arabic.frameElement.screenshot({ path: join(RESULTS, 'rtl-arabic.png') });

  // English: the customer at the right, the send button right of the field.
  assert.ok(ltr.customer.center > ltr.width / 2, `English customer bubble on the right: ${JSON.stringify(ltr)}`);
  assert.ok(ltr.agent.center < ltr.width / 2, 'English agent bubble on the left');
  assert.ok(ltr.send.left > ltr.input.right - 1, 'English send button after the field');
  // Arabic: all mirrored.
  assert.ok(rtl.customer.center < rtl.width / 2, `Arabic customer bubble on the left: ${JSON.stringify(rtl)}`);
  assert.ok(rtl.agent.center > rtl.width / 2, 'Arabic agent bubble on the right');
  assert.ok(rtl.send.right < rtl.input.left + 1, 'Arabic send button before the field (to its left)');
  // The same distances from the edges, mirrored.
  assert.ok(Math.abs(ltr.width - ltr.send.right - rtl.send.left) <= 1, 'the send button mirrors exactly');
});
