// Languages: the panel speaks the browser's language when the site supports
// it (German for a de-DE browser, with German dates), a site's override of a
// text shows, and an unsupported browser language falls back to the site's
// default language.

import assert from 'node:assert/strict';

import { eventually, scenario } from './support.mjs';
import { Panel, Sites, sitePage } from './support-widget.mjs';

const DAY_MS = 24 * 3600 * 1000;

scenario('a de-DE browser sees German texts and German dates and times', async (world) => {
  const sites = new Sites(world);
  const { site } = await sites.create({ name: 'Acme', default_language: 'en' });
  const profile = await world.launchProfile('berlin', { locale: 'de-DE', timezoneId: 'Europe/Berlin' });
  const page = await profile.open(sitePage(world, '/', site.key));
  const panel = new Panel(page);
  await panel.open();

  assert.equal(await panel.html.getAttribute('lang'), 'de');
  assert.equal(await panel.html.getAttribute('dir'), 'ltr');
  assert.equal(await panel.composer.getAttribute('placeholder'), 'Nachricht schreiben…');
  assert.equal(await panel.composer.getAttribute('aria-label'), 'Nachricht schreiben');
  assert.equal(await panel.sendButton.getAttribute('aria-label'), 'Senden');
  await panel.frame.getByText('Fragen? Wir helfen gern.').waitFor();
  // The launcher speaks German too (the loader reads the same texts).
  assert.equal(await panel.launcher.getAttribute('aria-label'), 'Nachrichten schließen');

  await panel.send('Hallo!');
  await panel.waitForMessages([{ author: 'customer', body: 'Hallo!', status: 'sent' }]);
  const [listed] = await world.server.listConversations();
  const reply = await world.server.reply(listed.conversation.id, 'Guten Tag!');
  await panel.waitForMessages([
    { author: 'customer', body: 'Hallo!' },
    { author: 'agent', body: 'Guten Tag!' },
  ]);
  await panel.frame.locator('[data-testid=day-separator]').getByText('Heute').waitFor();
  const expectedTime = new Date(reply.created_at).toLocaleTimeString('de-DE', {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone: 'Europe/Berlin',
  });
  assert.equal(await panel.messages.nth(1).locator('.time').textContent(), expectedTime);
  assert.equal(await panel.messages.nth(1).locator('.visually-hidden').textContent(), 'Support: ');

  // Three days later (the browser's clock), the day is a German date.
  const later = Date.now() + 3 * DAY_MS;
  await page.clock.setFixedTime(later);
  await page.reload();
  const again = new Panel(page);
  await again.open();
  await again.waitForMessages([
    { author: 'customer', body: 'Hallo!' },
    { author: 'agent', body: 'Guten Tag!' },
  ]);
  const germanDate = new Date(reply.created_at).toLocaleDateString('de-DE', {
    weekday: 'long',
    month: 'long',
    day: 'numeric',
    timeZone: 'Europe/Berlin',
  });
  assert.match(germanDate, /^[A-Z][a-z]+, \d+\. [A-Z][a-zä]+$/, `a German date: ${germanDate}`);
  await eventually(async () =>
    assert.deepEqual(await again.frame.locator('[data-testid=day-separator]').allTextContents(), [germanDate]),
  );
});

scenario('a site override of one text shows up, the rest stays translated', async (world) => {
  const sites = new Sites(world);
  const { site } = await sites.create({
    name: 'Acme',
    texts: { de: { 'composer.placeholder': 'Was können wir für Sie tun?' }, '*': { 'empty.hint': 'Acme antwortet.' } },
  });
  const profile = await world.launchProfile('hamburg', { locale: 'de-DE' });
  const panel = new Panel(await profile.open(sitePage(world, '/', site.key)));
  await panel.open();
  assert.equal(await panel.composer.getAttribute('placeholder'), 'Was können wir für Sie tun?');
  await panel.frame.getByText('Acme antwortet.').waitFor();
  assert.equal(await panel.sendButton.getAttribute('aria-label'), 'Senden');

  // An English browser gets the override for every language, not the German one.
  const london = await world.launchProfile('london', { locale: 'en-GB' });
  const english = new Panel(await london.open(sitePage(world, '/', site.key)));
  await english.open();
  assert.equal(await english.composer.getAttribute('placeholder'), 'Write a message…');
  await english.frame.getByText('Acme antwortet.').waitFor();
});

scenario("an unsupported browser language falls back to the site's default language", async (world) => {
  const sites = new Sites(world);
  const { site } = await sites.create({ name: 'Acme', default_language: 'fr' });
  const profile = await world.launchProfile('tokyo', { locale: 'ja-JP' });
  const panel = new Panel(await profile.open(sitePage(world, '/', site.key)));
  await panel.open();
  assert.equal(await panel.html.getAttribute('lang'), 'fr');
  assert.equal(await panel.composer.getAttribute('placeholder'), 'Écrire un message…');
  await panel.frame.getByText('Des questions ? Nous sommes là pour vous aider.').waitFor();
  assert.equal(await panel.launcher.getAttribute('aria-label'), 'Fermer les messages');
});
