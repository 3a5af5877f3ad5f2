// A host page under the strict Content-Security-Policy of the issue (no
// 'unsafe-inline', no 'unsafe-eval', no 'wasm-unsafe-eval'): the widget works
// end to end and no document (the host page or the messenger's frame)
// reports a single violation.

import assert from 'node:assert/strict';
import { Messenger, eventually, scenario } from './support.mjs';
import { HeaderHost, embedHtml, recordViolations, consoleErrors } from './support-loader.mjs';

const violations = (frameOrPage) => frameOrPage.evaluate(() => window.__violations);

scenario('the widget works on a host page with a strict CSP, with zero violations', async (world) => {
  const server = world.server.origin;
  const host = await HeaderHost.start();
  try {
    const csp = `default-src 'self'; script-src 'self' ${server}; frame-src ${server}; connect-src 'self' ${server}; style-src 'self' ${server}; img-src 'self' ${server} data:`;
    const url = host.page('/strict', embedHtml({ serverOrigin: server, attributes: { site: 'default' } }), {
      'content-security-policy': csp,
    });
    const profile = await world.launchProfile('customer');
    await recordViolations(profile);
    const page = await profile.open(url);
    const messenger = new Messenger(page);

    await messenger.open();
    await messenger.send('Hello under a strict CSP');
    await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: 'Hello under a strict CSP' }]);
    const conversation = await world.server.onlyConversation();
    await world.server.reply(conversation.id, 'Hello from an agent');
    const expected = [
      { author: 'customer', body: 'Hello under a strict CSP' },
      { author: 'agent', body: 'Hello from an agent' },
    ];
    await messenger.waitForMessages(expected);
    await check();

    // A new page view finds the conversation again.
    await page.reload();
    await messenger.open();
    await messenger.waitForMessages(expected);
    await profile.settled();
    await check();

    async function check() {
      const frame = await messenger.contentFrame();
      assert.deepEqual(await violations(page), [], 'no violation on the host page');
      assert.deepEqual(await violations(frame), [], "no violation in the messenger's frame");
      assert.deepEqual(consoleErrors(profile), [], 'no console errors');
      // The policy really is in force: an inline script is refused (and reported).
      await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.__inlineRan = true';
        document.body.append(s);
      });
      assert.equal(await page.evaluate(() => window.__inlineRan), undefined, 'inline scripts are blocked');
      await eventually(async () => assert.equal((await violations(page)).length, 1), { what: 'the probe to be reported' });
      await page.evaluate(() => (window.__violations.length = 0));
      profile.errors.length = 0; // the probe's own report
    }
  } finally {
    await host.close();
  }
});
