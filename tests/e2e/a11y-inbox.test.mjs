// Accessibility of the agents' inbox: axe-core (WCAG 2.0, 2.1 and 2.2, A and
// AA rules) finds nothing on any screen an agent works with: sign-in (also
// with its error), the conversation list with conversations from two sites,
// an open conversation with messages and an internal note, Settings with the
// sites editor (a fresh secret shown, the rotation asked for), Settings as an
// agent who is no admin, and the shortcuts' help overlay.

import assert from 'node:assert/strict';
import { Inbox, eventually, scenario } from './support.mjs';
import {
  apiSession,
  axeViolations,
  createAgent,
  createSite,
  customerSays,
  formatViolations,
  openSettings,
} from './support-inbox.mjs';

scenario('axe-core finds no WCAG 2.2 A or AA violation anywhere in the inbox', async (world) => {
  const found = {};
  const check = async (page, state) => {
    found[state] = await axeViolations(page);
  };

  const admin = await world.createAdmin({ name: 'Ada Lovelace' });
  const session = await apiSession(world, admin);
  const shop = await createSite(world, session, { name: 'Acme shop', allowed_origins: [] });
  await customerSays(world, 'Where is my order?');
  await customerSays(world, 'Do you ship to Norway?', { site: shop.site.key });
  const grace = await createAgent(world, session);

  const profile = await world.launchProfile('agent');
  const inbox = new Inbox(await profile.open('about:blank'), world.server.origin);
  const page = inbox.page;
  await inbox.open();
  await inbox.email.waitFor();
  await check(page, 'sign-in');
  await inbox.attemptSignIn({ email: admin.email, password: 'not the password at all' });
  await inbox.error.getByText('Wrong email or password.').waitFor();
  await check(page, 'sign-in with an error');

  await inbox.signIn(admin);
  await eventually(async () => assert.equal(await inbox.rows.count(), 2), { what: 'both conversations listed' });
  await page.getByTestId('conversation-site').getByText('Acme shop').waitFor();
  await check(page, 'conversation list');

  await inbox.rows.filter({ hasText: 'Where is my order?' }).click();
  await inbox.history.getByText('Where is my order?').waitFor();
  await inbox.reply('It ships today.');
  await inbox.note('Customer since 2019');
  await check(page, 'open conversation');

  await page.keyboard.press('Escape');
  await inbox.composer.evaluate((el) => el.blur());
  await page.keyboard.press('?');
  await page.getByTestId('help').waitFor();
  await check(page, 'help overlay');
  await page.keyboard.press('Escape');
  await page.getByTestId('help').waitFor({ state: 'detached' });

  await openSettings(inbox);
  await page.getByTestId('site-editor').waitFor();
  await page.getByTestId('hours').waitFor();
  await check(page, 'settings with the sites editor');

  await page.getByTestId('new-site').getByLabel('Name').fill('Blog');
  await page.getByTestId('new-site').getByRole('button', { name: 'Add site' }).click();
  await page.getByTestId('site-secret').waitFor();
  await page.getByTestId('add-text').click();
  await check(page, 'settings with a new secret and a text row');
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByTestId('rotate-secret').click();
  await page.getByTestId('rotate-confirm').waitFor();
  await check(page, 'settings asking to rotate the secret');

  const agentInbox = new Inbox(await (await world.launchProfile('grace')).open('about:blank'), world.server.origin);
  await agentInbox.open();
  await agentInbox.signIn(grace);
  await agentInbox.page.getByTestId('open-settings').click();
  await agentInbox.page.getByRole('heading', { name: 'Your password' }).waitFor();
  await check(agentInbox.page, 'settings of an agent who is no admin');

  const violations = Object.fromEntries(Object.entries(found).filter(([, v]) => v.length > 0));
  assert.deepEqual(violations, {}, `axe-core violations:\n${formatViolations(violations)}`);
});
