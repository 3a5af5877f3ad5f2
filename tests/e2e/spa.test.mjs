// A single-page app: its router changes the address with history.pushState
// and re-renders the whole body (as some frameworks do, removing whatever
// else was there). The widget stays, and so do the open panel, the
// conversation and the unread count.

import assert from 'node:assert/strict';
import { Messenger, eventually, scenario } from './support.mjs';
import { embedHtml, consoleErrors } from './support-loader.mjs';

// The app's router: render(path) replaces every child of <body>.
const APP = `<script>
  window.pageLoads = (window.pageLoads || 0) + 1;
  window.navigate = (path) => {
    history.pushState({ path }, '', path);
    const main = document.createElement('main');
    main.innerHTML = '<h1>' + path + '</h1><a href="#">a link</a>';
    document.body.replaceChildren(main);
  };
  addEventListener('popstate', () => navigate(location.pathname));
</script>`;

scenario('route changes and body re-renders of a single-page app keep the widget and its state', async (world) => {
  const url = world.host.page('/app', embedHtml({ serverOrigin: world.server.origin, head: APP }));
  const profile = await world.launchProfile('customer');
  const page = await profile.open(url);
  const messenger = new Messenger(page);

  await messenger.open();
  await messenger.send('Asking from the home page');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Asking from the home page' }]);
  const conversation = await world.server.onlyConversation();

  // Navigate with the panel open: it stays open, with the conversation.
  await page.evaluate(() => navigate('/pricing'));
  assert.equal(new URL(page.url()).pathname, '/pricing');
  assert.equal(await page.locator('h1').textContent(), '/pricing', 'the app re-rendered its body');
  await messenger.launcher.waitFor({ state: 'visible' });
  assert.equal(await messenger.launcher.getAttribute('aria-expanded'), 'true', 'the panel is still open');
  await messenger.panel.waitFor({ state: 'visible' });
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Asking from the home page' }]);
  await world.server.reply(conversation.id, 'Here are our prices');
  await messenger.waitForMessages([
    { author: 'customer', body: 'Asking from the home page' },
    { author: 'agent', body: 'Here are our prices' },
  ]);

  // Closed, a reply is counted; the count survives the next route changes.
  await messenger.close();
  await world.server.reply(conversation.id, 'Anything else?');
  await eventually(async () => assert.equal(await messenger.unreadBadge.textContent(), '1'), { what: 'one unread reply' });
  await page.evaluate(() => navigate('/about'));
  await page.goBack(); // popstate: the router renders again
  await eventually(async () => assert.equal(new URL(page.url()).pathname, '/pricing'));
  await messenger.unreadBadge.waitFor({ state: 'visible' });
  await eventually(async () => assert.equal(await messenger.unreadBadge.textContent(), '1'), {
    what: 'the unread count to survive the route changes',
  });
  assert.equal(await page.locator('messenger-widget').count(), 1, 'one widget, put back once');
  assert.equal(await page.evaluate(() => window.pageLoads), 1, 'no page load: routes changed in place');

  await messenger.open();
  await messenger.unreadBadge.waitFor({ state: 'hidden' });
  await messenger.waitForMessages([
    { author: 'customer', body: 'Asking from the home page' },
    { author: 'agent', body: 'Here are our prices' },
    { author: 'agent', body: 'Anything else?' },
  ]);
  assert.deepEqual(consoleErrors(profile), [], 'no console errors');
});
