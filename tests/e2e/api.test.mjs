// The JavaScript API a host page drives the widget with: calls queued before
// the script loads, the commands, the events, language, reset; and the
// script tag's data-* overrides.

import assert from 'node:assert/strict';
import { Messenger, eventually, scenario } from './support.mjs';
import { RECORD_EVENTS, STUB, embedHtml, recordedEvents } from './support-loader.mjs';

const names = async (page) => (await recordedEvents(page)).map(([name]) => name);

scenario('calls queued before the script loads run in order: on(ready), open', async (world) => {
  const before = `<script>${STUB}
window.__events = [];
Messenger('on', 'ready', () => window.__events.push('ready'));
Messenger('on', 'open', () => window.__events.push('open'));
Messenger('open');</script>`;
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.host.page('/', embedHtml({ serverOrigin: world.server.origin, before })));
  const messenger = new Messenger(page);
  await messenger.panel.waitFor({ state: 'visible' });
  assert.equal(await messenger.launcher.getAttribute('aria-expanded'), 'true');
  assert.deepEqual(await page.evaluate(() => window.__events), ['ready', 'open']);
  // Calls after load, through the queue's own push too, run at once.
  await page.evaluate(() => (Messenger.q = Messenger.q || []).push(['close']));
  await messenger.frameElement.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => typeof window.Messenger), 'function');
});

scenario('open, close, toggle, show and hide, with their events; a failing listener breaks nothing', async (world) => {
  const before = `<script>${STUB}${RECORD_EVENTS}
Messenger('on', 'open', () => { throw new Error('a broken host listener'); });</script>`;
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.host.page('/', embedHtml({ serverOrigin: world.server.origin, before })));
  const messenger = new Messenger(page);
  await messenger.launcher.waitFor({ state: 'visible' });
  await eventually(async () => assert.deepEqual(await names(page), ['ready']));

  await page.evaluate(() => Messenger('open'));
  await messenger.panel.waitFor({ state: 'visible' });
  await page.evaluate(() => Messenger('close'));
  await messenger.frameElement.waitFor({ state: 'hidden' });
  await page.evaluate(() => Messenger('toggle'));
  await messenger.frameElement.waitFor({ state: 'visible' });
  await page.evaluate(() => Messenger('toggle'));
  await messenger.frameElement.waitFor({ state: 'hidden' });
  assert.deepEqual(await names(page), ['ready', 'open', 'close', 'open', 'close']);
  assert.ok(profile.errors.some((e) => e.includes('a broken host listener')), 'the listener error is reported as the host page’s');
  profile.errors.length = 0;

  await page.evaluate(() => Messenger('open'));
  await messenger.panel.waitFor({ state: 'visible' });
  await page.evaluate(() => Messenger('hide'));
  await messenger.launcher.waitFor({ state: 'hidden' });
  await messenger.frameElement.waitFor({ state: 'hidden' });
  await page.evaluate(() => Messenger('show'));
  await messenger.launcher.waitFor({ state: 'visible' });
  assert.equal(await messenger.frameElement.isVisible(), false, 'show brings the launcher back, not the panel');
  assert.deepEqual((await names(page)).slice(5), ['open', 'close']);
  // off: no more events for that listener.
  await page.evaluate(() => {
    window.__offCalls = 0;
    const fn = () => (window.__offCalls += 1);
    Messenger('on', 'open', fn);
    Messenger('off', 'open', fn);
    Messenger('open');
  });
  await messenger.panel.waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => window.__offCalls), 0);
});

scenario('an agent reply fires message-received and unread-count-changed; setLanguage relabels the launcher', async (world) => {
  const before = `<script>${STUB}${RECORD_EVENTS}</script>`;
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.host.page('/', embedHtml({ serverOrigin: world.server.origin, before })));
  const messenger = new Messenger(page);
  assert.equal(await messenger.launcher.getAttribute('aria-label'), 'Open messages');
  await messenger.open();
  await messenger.send('Any news?');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Any news?' }]);
  await messenger.close();
  const conversation = await world.server.onlyConversation();
  const reply = await world.server.reply(conversation.id, 'Yes: it shipped');

  await eventually(async () => {
    const events = await recordedEvents(page);
    assert.deepEqual(events.filter(([name]) => name === 'unread-count-changed'), [['unread-count-changed', 1]]);
  }, { what: 'unread-count-changed' });
  await eventually(async () => {
    const received = (await recordedEvents(page)).filter(([name]) => name === 'message-received').map(([, detail]) => detail);
    assert.equal(received.length, 1, 'one message-received');
    assert.equal(received[0].body, 'Yes: it shipped');
    assert.equal(received[0].id, reply.id);
  }, { what: 'message-received' });

  await page.evaluate(() => Messenger('setLanguage', 'de'));
  await eventually(async () => assert.equal(await messenger.launcher.getAttribute('aria-label'), 'Nachrichten öffnen'));
  assert.equal(await messenger.unreadBadge.getAttribute('aria-label'), '1 ungelesene Nachricht');
  // The panel is drawn afresh in German: once it holds the reply again, the
  // badge has never dropped to 0 on the way.
  await eventually(async () => {
    const frame = await messenger.contentFrame();
    assert.equal(await frame.evaluate(() => document.documentElement.lang), 'de');
    assert.match(await frame.evaluate(() => document.body.textContent), /Yes: it shipped/);
  }, { what: 'the German panel with the reply' });
  assert.deepEqual(
    (await recordedEvents(page)).filter(([name]) => name === 'unread-count-changed'),
    [['unread-count-changed', 1]],
  );
  assert.equal(await messenger.unreadBadge.getAttribute('aria-label'), '1 ungelesene Nachricht');
});

scenario('reset forgets the customer: storage cleared, the next page view shows no history', async (world) => {
  const server = world.server.origin;
  const profile = await world.launchProfile('customer');
  const url = world.host.page('/', embedHtml({ serverOrigin: server, before: `<script>${STUB}</script>` }));
  const page = await profile.open(url);
  const messenger = new Messenger(page);
  await messenger.open();
  await messenger.send('My private question');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'My private question' }]);
  assert.ok((await messenger.storedConversation(server))?.token, 'a token is stored');

  await page.evaluate(() => Messenger('reset'));
  const ours = () =>
    page.evaluate((prefix) => Object.keys(localStorage).filter((k) => k.startsWith(prefix)), `messenger:${server}`);
  await eventually(async () => assert.deepEqual(await ours(), []), { what: 'every key of this server to go' });
  await messenger.waitForMessages([]);

  await page.reload();
  await messenger.open();
  await profile.settled();
  assert.deepEqual(await messenger.read(), [], 'the next page view shows nothing of the previous customer');
  assert.deepEqual(await ours(), []);
});

scenario('data-* attributes override the site: position left, colour, z-index', async (world) => {
  const attributes = { position: 'left', color: '#fde047', 'z-index': '1234', 'offset-x': '30', 'offset-y': '40' };
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.host.page('/', embedHtml({ serverOrigin: world.server.origin, attributes })));
  const messenger = new Messenger(page);
  await messenger.launcher.waitFor({ state: 'visible' });
  const viewport = page.viewportSize();
  const box = await messenger.launcher.boundingBox();
  assert.equal(Math.round(box.x), 30, `launcher 30px from the left: ${JSON.stringify(box)}`);
  assert.equal(Math.round(viewport.height - box.y - box.height), 40, 'and 40px from the bottom');
  const look = await messenger.launcher.evaluate((el) => ({
    background: getComputedStyle(el).backgroundColor,
    color: getComputedStyle(el).color,
    zIndex: getComputedStyle(el.getRootNode().host).zIndex,
  }));
  // A light brand colour gets dark text (WCAG contrast), as the server computes it.
  assert.deepEqual(look, { background: 'rgb(253, 224, 71)', color: 'rgb(17, 24, 39)', zIndex: '1234' });

  await messenger.open();
  const panel = await messenger.frameElement.boundingBox();
  assert.equal(Math.round(panel.x), 30, `the panel opens on the same side: ${JSON.stringify(panel)}`);
});
