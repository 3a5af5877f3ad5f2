// A site whose allowed origins do not include the host page: the loader
// draws nothing, the panel's page refuses to be framed there (CSP
// frame-ancestors), and the server refuses the site's API to that origin
// even from a client that forges the Origin header.

import assert from 'node:assert/strict';
import { Messenger, eventually, scenario } from './support.mjs';
import { createSite, embedHtml, siteSettings } from './support-loader.mjs';

scenario('an origin not on the site\'s list gets no launcher and cannot frame the panel', async (world) => {
  const server = world.server.origin;
  const { site, session } = await createSite(world, { name: 'Elsewhere', allowed_origins: ['https://shop.example'] });
  const key = site.key;
  const profile = await world.launchProfile('visitor');
  const warnings = [];
  profile.context.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));

  // The loader: nothing drawn, one warning.
  const page = await profile.open(world.host.page('/', embedHtml({ serverOrigin: server, attributes: { site: key } })));
  await eventually(() => assert.equal(warnings.filter((w) => w.startsWith('Messenger:')).length, 1), {
    what: "the loader's warning",
  });
  // (The warning comes once the loader has given up: nothing is drawn after it.)
  assert.equal(await page.locator('messenger-widget').count(), 0, 'no launcher, no element at all');
  assert.equal(await page.evaluate(() => document.querySelectorAll('iframe').length), 0);

  // A page framing the panel by hand: the browser refuses to show it.
  const framing = `<iframe data-testid="forced" src="${server}/frame/?site=${key}" title="forced"></iframe>`;
  await page.goto(world.host.page('/forced', embedHtml({ serverOrigin: server, body: framing, embed: false })));
  // Chromium shows its error page in place of a page that refuses the frame.
  await eventually(async () => {
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert.match(frame?.url() ?? '', /^chrome-error:/, "the panel's page is refused");
  });
  assert.equal(await page.frameLocator('[data-testid=forced]').locator('[data-testid=panel]').count(), 0);

  // The same site admits its own origins: the check above can see a panel.
  const settings = siteSettings({ name: 'Elsewhere', allowed_origins: ['https://shop.example', world.host.origin] });
  const updated = await world.server.inboxRequest(session, 'PUT', `/sites/${site.id}`, settings);
  assert.equal(updated.status, 200, JSON.stringify(updated.body));
  await page.goto(world.host.page('/allowed', embedHtml({ serverOrigin: server, attributes: { site: key } })));
  const messenger = new Messenger(page);
  await messenger.open();

  // The API, asked by a client that forges an Origin not on the list.
  const forged = await fetch(`${server}/api/v1/sites/${key}/widget`, { headers: { origin: 'https://evil.example' } });
  assert.equal(forged.status, 403);
  assert.equal((await forged.json()).error.code, 'origin_not_allowed');
});
