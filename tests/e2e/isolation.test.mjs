// The widget and the host page must not style each other: a careless or
// hostile host stylesheet cannot hide or break the messenger, and the
// messenger's own CSS changes nothing on the host page.

import assert from 'node:assert/strict';
import { Messenger, scenario } from './support.mjs';

const HOSTILE_CSS = `<style>
  * { all: unset !important; }
  div, iframe, button { display: none !important; }
  html, body, p { font: 96px/4 "Comic Sans MS", cursive !important; color: #f0f !important; }
  body { margin: 40px !important; }
</style>`;

const HOST_CONTENT = `
<p id="plain-p">A paragraph styled only by the browser.</p>
<p id="brand-p" class="brand">A paragraph in the site's own style.</p>
<button id="plain-button">Plain button</button>
<button id="brand-button" class="brand">Brand button</button>
<div id="plain-div">A div</div>
<a id="plain-a" href="#">A link</a>
<input id="plain-input" value="an input">
<ul id="plain-ul"><li>a list item</li></ul>`;

const SITE_CSS = `<style>
  .brand { font: italic 15px/1.4 Georgia, serif; color: rgb(20, 40, 60); letter-spacing: 0.5px; }
</style>`;

const WATCHED_ELEMENTS = ['html', 'body', 'h1', '#plain-p', '#brand-p', '#plain-button', '#brand-button',
  '#plain-div', '#plain-a', '#plain-input', '#plain-ul', '#plain-ul li'];

const WATCHED_PROPERTIES = ['font-family', 'font-size', 'font-style', 'font-weight', 'line-height', 'color',
  'background-color', 'letter-spacing', 'text-transform', 'display', 'box-sizing', 'margin-top', 'margin-left',
  'padding-top', 'padding-left', 'border-top-width', 'border-top-style', 'width', 'height', 'overflow'];

/** Computed styles of the watched host elements, as {selector: {property: value}}. */
function hostStyles(page) {
  return page.evaluate(([selectors, properties]) => {
    const styles = {};
    for (const selector of selectors) {
      const element = document.querySelector(selector);
      const computed = getComputedStyle(element);
      styles[selector] = Object.fromEntries(properties.map((p) => [p, computed.getPropertyValue(p)]));
    }
    return styles;
  }, [WATCHED_ELEMENTS, WATCHED_PROPERTIES]);
}

/** Asserts that `box` is at least `min` and at most `max` px in size and lies inside the viewport. */
function assertOnScreen(what, box, viewport, { min, max }) {
  assert.ok(box, `${what} has a layout box`);
  assert.ok(box.width >= min.width && box.height >= min.height, `${what} is big enough: ${JSON.stringify(box)}`);
  assert.ok(box.width <= max.width && box.height <= max.height, `${what} is not blown up: ${JSON.stringify(box)}`);
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width + 0.5 && box.y + box.height <= viewport.height + 0.5,
    `${what} lies inside the ${viewport.width}x${viewport.height} viewport: ${JSON.stringify(box)}`);
}

scenario('a hostile host stylesheet neither hides nor breaks the launcher and the panel', async (world) => {
  const profile = await world.launchProfile('customer');
  const page = await profile.open(world.hostPage('/hostile', { head: HOSTILE_CSS, body: HOST_CONTENT }));
  const viewport = page.viewportSize();
  const messenger = new Messenger(page);

  // Make sure the hostile sheet really is in force on the host page.
  assert.equal(await page.locator('#plain-button').isVisible(), false, 'the hostile CSS hides host buttons');
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).fontSize), '96px');

  await messenger.launcher.waitFor({ state: 'visible' });
  assertOnScreen('the launcher', await messenger.launcher.boundingBox(), viewport,
    { min: { width: 24, height: 24 }, max: { width: 200, height: 200 } });

  await messenger.launcher.click(); // Playwright checks that the launcher itself receives the click
  await messenger.panel.waitFor({ state: 'visible' });
  assertOnScreen('the panel frame', await messenger.frameElement.boundingBox(), viewport,
    { min: { width: 240, height: 300 }, max: viewport });
  await messenger.composer.waitFor({ state: 'visible' });

  await messenger.send('Still works under hostile CSS', { via: 'button' });
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Still works under hostile CSS' }]);
  const panelFont = await messenger.composer.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  assert.ok(panelFont >= 10 && panelFont <= 24, `the host's giant font does not reach the panel (composer at ${panelFont}px)`);
});

scenario("the widget's styles do not leak into the host page", async (world) => {
  const profile = await world.launchProfile('customer');
  const plainUrl = world.hostPage('/plain', { head: SITE_CSS, body: HOST_CONTENT, embed: false });
  const embeddedUrl = world.hostPage('/embedded', { head: SITE_CSS, body: HOST_CONTENT });

  const page = await profile.open(plainUrl);
  const without = await hostStyles(page);

  await page.goto(embeddedUrl);
  const messenger = new Messenger(page);
  await messenger.launcher.waitFor({ state: 'visible' });
  assert.deepEqual(await hostStyles(page), without, 'host styles are unchanged once the launcher shows');

  await messenger.open();
  await messenger.send('Styles check');
  await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Styles check' }]);
  assert.deepEqual(await hostStyles(page), without, 'host styles are unchanged with the panel open');
});
