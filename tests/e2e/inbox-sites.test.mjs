// Sites in the inbox: an admin adds a site and sets it up (origins, brand
// color, launcher position, greeting, texts), and the public widget
// configuration follows at once, without touching any host page; the
// identity secret is shown once; a wrong origin is refused with the server's
// message and changes nothing; agents who are no admins cannot change sites;
// each site has its own hours; conversations say which site they came from.

import assert from 'node:assert/strict';
import { eventually, scenario } from './support.mjs';
import {
  apiSession,
  createAgent,
  createSite,
  customerSays,
  listSites,
  openSettings,
  signedInInbox,
  widgetConfig,
} from './support-inbox.mjs';

scenario('an admin adds a site, sees its secret once, sets it up, and the widget configuration follows', async (world) => {
  const admin = await world.createAdmin();
  const inbox = await signedInInbox(world, admin);
  const page = inbox.page;
  await openSettings(inbox);

  const shopOrigin = world.host.origin; // http://localhost:PORT
  const form = page.getByTestId('new-site');
  await form.getByLabel('Name').fill('Acme shop');
  await form.getByLabel('Allowed origins (one per line)').fill(shopOrigin);
  await form.getByRole('button', { name: 'Add site' }).click();

  // The new site is chosen, its secret shown once.
  const editor = page.getByTestId('site-editor');
  await editor.getByRole('heading', { name: 'Settings of Acme shop' }).waitFor();
  const key = await editor.getByTestId('site-key').innerText();
  assert.match(key, /^mws_[0-9a-f]{24}$/);
  const secret = await page.getByTestId('site-secret').innerText();
  assert.ok(secret.length >= 32, `a long secret: ${secret}`);
  const listed = await page.evaluate(async () => (await fetch('/api/v1/inbox/sites')).text());
  assert.ok(!listed.includes(secret), 'the site list never carries the secret');
  assert.equal(
    await page.getByTestId('embed-snippet').innerText(),
    `<script src="${world.server.origin}/widget.js" async data-site="${key}"></script>`,
  );

  // Colour, position, greeting, one more origin and a German text.
  await editor.getByTestId('site-color').fill('#fde047');
  await editor.getByTestId('site-text-color').getByText('#111827').waitFor();
  await editor.getByLabel('Bottom left').check();
  await editor.getByLabel('Greeting').fill('Hello from Acme!');
  await editor.getByTestId('site-origins').fill(`${shopOrigin}\nhttps://www.acme.example`);
  await editor.getByTestId('add-text').click();
  const row = editor.getByTestId('text-row').last();
  await row.getByLabel('Language').selectOption('de');
  await row.getByLabel('Text key').fill('launcher.open');
  await row.getByLabel('Text', { exact: true }).fill('Chat öffnen');
  await editor.getByRole('button', { name: 'Save site' }).click();
  await editor.getByTestId('site-outcome').getByText('Saved.').waitFor();

  // What every host page's loader fetches now, from an allowed origin.
  const { status, body: config } = await widgetConfig(world, key, { origin: shopOrigin, lang: 'de-DE,de' });
  assert.equal(status, 200, JSON.stringify(config));
  assert.equal(config.color, '#fde047');
  assert.equal(config.text_color, '#111827');
  assert.equal(config.position, 'left');
  assert.equal(config.greeting, 'Hello from Acme!');
  assert.equal(config.language, 'de');
  assert.equal(config.texts['launcher.open'], 'Chat öffnen');
  assert.equal((await widgetConfig(world, key, { origin: 'https://www.acme.example' })).status, 200);
  const refused = await widgetConfig(world, key, { origin: 'https://evil.example' });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'origin_not_allowed');

  // After a reload: the settings are kept and the secret is gone for good.
  await page.reload();
  await inbox.live.getByText('Live').waitFor();
  await openSettings(inbox);
  await page.getByTestId('sites').getByTestId('site-item').filter({ hasText: 'Acme shop' }).click();
  await editor.getByRole('heading', { name: 'Settings of Acme shop' }).waitFor();
  assert.equal(await editor.getByTestId('site-color').inputValue(), '#fde047');
  assert.equal(await editor.getByLabel('Bottom left').isChecked(), true);
  assert.equal(await page.getByTestId('site-secret').count(), 0, 'the secret is not shown again');
  await page.getByTestId('site-secret-section').getByText('A secret is set.').waitFor();

  // Rotating asks first, then shows the new secret once.
  await page.getByTestId('rotate-secret').click();
  await page.getByTestId('rotate-confirm').click();
  const rotated = await page.getByTestId('site-secret').innerText();
  assert.ok(rotated.length >= 32 && rotated !== secret, 'a new secret');
  const after = await page.evaluate(async () => (await fetch('/api/v1/inbox/sites')).text());
  assert.ok(!after.includes(rotated), 'the site list never carries the new secret');
});

scenario("an origin that is no origin is refused with the server's message and changes nothing", async (world) => {
  const admin = await world.createAdmin();
  const session = await apiSession(world, admin);
  const inbox = await signedInInbox(world, admin);
  const page = inbox.page;
  await openSettings(inbox);
  const editor = page.getByTestId('site-editor');
  await editor.waitFor();
  // The default site lets any website embed it, and says so.
  await editor.getByTestId('origins-warning').getByText('Any website can embed this widget').waitFor();

  const [before] = await listSites(world, session);
  await editor.getByTestId('site-origins').fill('shop.example/cart');
  await editor.getByLabel('Greeting').fill('This greeting must not be saved');
  await editor.getByRole('button', { name: 'Save site' }).click();

  // The server's own explanation, naming the field.
  const direct = await world.server.inboxRequest(session, 'PUT', `/sites/${before.id}`, {
    ...before,
    allowed_origins: ['shop.example/cart'],
  });
  assert.equal(direct.status, 400);
  assert.equal(direct.body.error.code, 'invalid_site');
  const explanation = direct.body.error.message.replace(/^[a-z_.]+: /, '');
  const outcome = editor.getByTestId('site-outcome');
  await outcome.getByText(explanation).waitFor();
  assert.match(await outcome.innerText(), /^Allowed origins: /);

  const [now] = await listSites(world, session);
  assert.deepEqual(now, before, 'nothing changed');
  const config = await widgetConfig(world, before.key);
  assert.equal(config.status, 200);
  assert.equal(config.body.greeting ?? null, before.greeting ?? null);
});

scenario('an agent who is no admin cannot change sites, in the inbox or through the API', async (world) => {
  const admin = await world.createAdmin();
  const adminSession = await apiSession(world, admin);
  const grace = await createAgent(world, adminSession);
  const inbox = await signedInInbox(world, grace, 'grace');
  // Like the hours, the team and the API keys, sites are admins' settings.
  await inbox.page.getByTestId('open-settings').click();
  await inbox.page.getByTestId('settings').getByRole('heading', { name: 'Your password' }).waitFor();
  for (const testId of ['sites', 'site-editor', 'new-site', 'hours', 'rotate-secret']) {
    assert.equal(await inbox.page.getByTestId(testId).count(), 0, `no ${testId} for agents`);
  }

  const session = await apiSession(world, grace);
  const [site] = await listSites(world, session);
  for (const [method, path, body] of [
    ['PUT', `/sites/${site.id}`, { ...site, name: 'Taken over' }],
    ['POST', '/sites', { name: 'Another site' }],
    ['POST', `/sites/${site.id}/secret`, undefined],
  ]) {
    const { status, body: answer } = await world.server.inboxRequest(session, method, path, body);
    assert.equal(status, 403, `${method} ${path}: ${JSON.stringify(answer)}`);
  }
  assert.deepEqual(await listSites(world, adminSession), [site], 'nothing changed');
});

scenario('with two sites, conversations say which site they came from, and each site has its own hours', async (world) => {
  const admin = await world.createAdmin();
  const session = await apiSession(world, admin);
  const inbox = await signedInInbox(world, admin);
  const page = inbox.page;

  // One site: no site names in the list.
  const first = await customerSays(world, 'Hello from the old site');
  await inbox.row(first).waitFor();
  assert.equal(await page.getByTestId('conversation-site').count(), 0);

  const { site: shop } = await createSite(world, session, { name: 'Acme shop', allowed_origins: [] });
  const second = await customerSays(world, 'Hello from the shop', { site: shop.key });
  await inbox.row(second).getByTestId('conversation-site').getByText('Acme shop').waitFor();
  const [defaultSite] = await listSites(world, session);
  await inbox.row(first).getByTestId('conversation-site').getByText(defaultSite.name).waitFor();
  await inbox.row(second).click();
  await page.getByTestId('view-site').getByText('Acme shop').waitFor();

  // The hours form follows the site chosen in Settings.
  await openSettings(inbox);
  await page.getByTestId('sites').getByTestId('site-item').filter({ hasText: 'Acme shop' }).click();
  const hours = page.getByTestId('hours');
  await hours.getByRole('heading', { name: 'Hours and replies: Acme shop' }).waitFor();
  await hours.getByLabel('Time zone').fill('Europe/Berlin');
  await hours.getByRole('button', { name: 'Save' }).click();
  await hours.getByText('Saved.').waitFor();
  await eventually(async () => {
    const ofShop = await world.server.inboxRequest(session, 'GET', `/settings/hours?site=${shop.id}`);
    assert.equal(ofShop.body.time_zone, 'Europe/Berlin');
  });
  const ofDefault = await world.server.inboxRequest(session, 'GET', `/settings/hours?site=${defaultSite.id}`);
  assert.notEqual(ofDefault.body.time_zone, 'Europe/Berlin', 'the other site keeps its hours');
});
