// A phone (390x844, touch): the open panel fills the viewport and the host
// page does not scroll behind it; closing gives the page its scrolling back.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { Messenger, REPO_ROOT, eventually, scenario } from './support.mjs';
import { embedHtml, consoleErrors } from './support-loader.mjs';

const VIEWPORT = { width: 390, height: 844 };
const TALL = '<main>' + Array.from({ length: 80 }, (_, i) => `<p>Paragraph ${i + 1} of a long host page.</p>`).join('') + '</main>';

/** A finger swiping up by `distance` px, as touch events through Chromium's input pipeline. */
async function swipe(page, distance) {
  const cdp = await page.context().newCDPSession(page);
  const touch = (type, y) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: y === undefined ? [] : [{ x: 200, y }] });
  await touch('touchStart', 700);
  for (let y = 680; y >= 700 - distance; y -= 20) await touch('touchMove', y);
  await touch('touchEnd');
  await cdp.detach();
}

/** Two animation frames: whatever a gesture was going to scroll has started to. */
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

scenario('on a phone the open panel fills the screen and the host page does not scroll behind it', async (world) => {
  const profile = await world.launchProfile('phone', {
    viewport: VIEWPORT, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
  });
  const page = await profile.open(world.host.page('/', embedHtml({ serverOrigin: world.server.origin, body: TALL })));
  const messenger = new Messenger(page);
  await messenger.launcher.waitFor({ state: 'visible' });
  await page.evaluate(() => window.scrollTo(0, 300));
  const htmlStyle = await page.evaluate(() => document.documentElement.getAttribute('style'));

  await messenger.open();
  await messenger.send('Hello from my phone');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Hello from my phone' }]);
  const box = await messenger.frameElement.boundingBox();
  assert.deepEqual(
    { x: Math.round(box.x), y: Math.round(box.y), width: Math.round(box.width), height: Math.round(box.height) },
    { x: 0, y: 0, ...VIEWPORT },
    'the panel fills the viewport',
  );
  await mkdir(join(REPO_ROOT, 'tests/e2e/test-results'), { recursive: true });
  await page.screenshot({ path: join(REPO_ROOT, 'tests/e2e/test-results/mobile-open-panel.png') });

  // Scroll attempts on the panel (touch and wheel) leave the host page where it was.
  await swipe(page, 500);
  await page.mouse.move(200, 400);
  await page.mouse.wheel(0, 800);
  await frames(page);
  await profile.settled({ quietMs: 300 });
  assert.equal(await page.evaluate(() => window.scrollY), 300, 'the host page did not scroll behind the panel');

  // Closed (from inside, with Escape), the page scrolls again and its own style is back.
  await messenger.composer.press('Escape');
  await messenger.frameElement.waitFor({ state: 'hidden' });
  assert.equal(
    await page.evaluate(() => document.activeElement.shadowRoot?.activeElement?.getAttribute('data-testid')),
    'launcher',
    'the focus is back on the launcher',
  );
  assert.equal(await page.evaluate(() => document.documentElement.style.getPropertyValue('overflow')), '');
  assert.equal(await page.evaluate(() => document.documentElement.getAttribute('style') || null), htmlStyle || null);
  await swipe(page, 500);
  await eventually(async () => assert.ok((await page.evaluate(() => window.scrollY)) > 300, 'the host page scrolls again'));
  assert.deepEqual(consoleErrors(profile), [], 'no console errors');
});
