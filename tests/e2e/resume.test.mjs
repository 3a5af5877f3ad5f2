// Email and resume links: a customer who left an address gets a reply they
// missed by email, with a link that opens the whole conversation in any
// browser, once; a used link says so and offers to send a new one.

import assert from 'node:assert/strict';
import { SmtpSink, links } from './mail.mjs';
import { Messenger, eventually, scenario } from './support.mjs';

const EMAIL = 'ada@example.com';
const FIRST = 'Can I change my delivery address?';
const REPLY = 'Yes: reply with the new address and we will update it.';
const LINK_SENT = /^If we have this address on record, a link is on its way\. It works once, for \d+ minutes?\.$/;

/** The resume link (…#mw-resume=CODE) in a mail's text. */
function resumeLink(mail) {
  const link = links(mail.text).find((url) => url.includes('#mw-resume='));
  assert.ok(link, `a resume link in the mail:\n${mail.text}`);
  return link;
}

scenario('a missed reply is emailed with a resume link that opens the conversation in another browser once', async (world) => {
  const sink = await SmtpSink.start();
  try {
    await world.server.stop();
    const server = await world.startServer({
      args: [
        '--smtp-url', `smtp://${sink.addr}`,
        '--mail-from', 'Acme Support <support@acme.test>',
        '--followup-delay-secs', '1',
      ],
    });
    const url = world.hostPage('/help', { title: 'Acme' });

    // The customer writes and leaves an email address.
    const customer = await world.launchProfile('customer');
    const page = await customer.open(url);
    const messenger = new Messenger(page);
    await messenger.open();
    await messenger.send(FIRST);
    await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: FIRST }]);
    await messenger.emailCard.waitFor();
    const input = messenger.frame.locator('[data-testid=invite-email]');
    await input.fill('ada@');
    await messenger.frame.locator('[data-testid=invite-send]').click();
    await eventually(async () => assert.equal(
      await messenger.frame.locator('[data-testid=invite-error]').innerText(),
      'Enter an email address like name@example.com'));
    await input.fill(EMAIL);
    await messenger.frame.locator('[data-testid=invite-send]').click();
    await eventually(async () => assert.match(await messenger.emailLine.innerText(),
      new RegExp(`^We'll email you at ${EMAIL.replace('.', '\\.')} if you miss a reply\\.`)));
    await page.close();

    // The agent answers after the customer has gone: one email.
    const conversation = await server.onlyConversation();
    await server.reply(conversation.id, REPLY);
    const [mail] = await sink.waitForMessages(1);
    assert.deepEqual(mail.to, [EMAIL]);
    assert.ok(mail.text.includes(REPLY), `the email carries the reply:\n${mail.text}`);
    const link = resumeLink(mail);
    assert.ok(link.startsWith(`${url}#mw-resume=`), `the link leads to the page the conversation started on: ${link}`);

    // Another browser opens the link: the whole conversation, and the code
    // leaves the address bar.
    const laptop = await world.launchProfile('laptop');
    const laptopPage = await laptop.open(link);
    const resumed = new Messenger(laptopPage);
    await resumed.panel.waitFor({ state: 'visible' });
    await resumed.waitForMessages([
      { author: 'customer', body: FIRST },
      { author: 'agent', body: REPLY },
    ]);
    assert.equal(laptopPage.url(), url, 'the resume code is gone from the address bar');
    await eventually(async () => {
      const stored = await resumed.storedConversation(server.origin);
      assert.ok(stored && typeof stored.token === 'string', 'the resumed conversation is stored on this browser');
    });

    // The same link again, in a third browser: used.
    const phone = await world.launchProfile('phone');
    const phonePage = await phone.open(link);
    const refused = new Messenger(phonePage);
    await refused.resumeProblem.waitFor();
    assert.match(await refused.resumeProblem.innerText(), /This link was already used\. Links work once\./);
    assert.equal(await refused.messages.count(), 0, 'a used link shows no conversation');
    assert.equal(sink.messages().length, 1, 'exactly one email for the missed reply');

    // …and sends a new link on request.
    await refused.frame.locator('[data-testid=new-link-email]').fill(EMAIL);
    await refused.frame.locator('[data-testid=new-link-send]').click();
    await eventually(async () =>
      assert.match(await refused.frame.locator('[data-testid=new-link-sent]').innerText(), LINK_SENT));
    const mails = await sink.waitForMessages(2);
    assert.deepEqual(mails[1].to, [EMAIL]);
    const fresh = resumeLink(mails[1]);
    assert.notEqual(fresh, link, 'a new link, with a new code');
  } finally {
    await sink.close();
  }
});

/** From the empty panel: "Continue an earlier conversation", then a link to `email`. */
async function requestLink(messenger, email) {
  await messenger.open();
  await messenger.frame.locator('[data-testid=continue-earlier]').click();
  await messenger.frame.locator('[data-testid=resume-link-email]').fill(email);
  await messenger.frame.locator('[data-testid=resume-link-send]').click();
  await eventually(async () =>
    assert.match(await messenger.frame.locator('[data-testid=resume-link-sent]').innerText(), LINK_SENT));
}

scenario('a browser without the conversation asks for a link by email', async (world) => {
  const sink = await SmtpSink.start();
  try {
    await world.server.stop();
    const server = await world.startServer({
      args: ['--smtp-url', `smtp://${sink.addr}`, '--mail-from', 'Acme Support <support@acme.test>'],
    });
    const url = world.hostPage('/', { title: 'Acme' });

    // A customer with an address on record…
    const customer = await world.launchProfile('customer');
    const messenger = new Messenger(await customer.open(url));
    await messenger.open();
    await messenger.send(FIRST);
    await messenger.waitForMessages([{ author: 'customer', status: 'sent', body: FIRST }]);
    await messenger.frame.locator('[data-testid=invite-email]').fill(EMAIL);
    await messenger.frame.locator('[data-testid=invite-send]').click();
    await messenger.emailLine.waitFor();

    // An unknown address gets the same answer as a known one, and no email.
    const stranger = await world.launchProfile('stranger');
    const strangerMessenger = new Messenger(await stranger.open(url));
    await requestLink(strangerMessenger, 'nobody@example.com');

    // The customer, on another browser, from the empty panel.
    const other = await world.launchProfile('other');
    const otherMessenger = new Messenger(await other.open(url));
    await requestLink(otherMessenger, EMAIL);
    // Mail goes out in order: had the unknown address been mailed, it would be first.
    const [mail] = await sink.waitForMessages(1);
    assert.deepEqual(mail.to, [EMAIL], 'only the known address is mailed');

    const restored = await other.open(resumeLink(mail));
    await new Messenger(restored).waitForMessages([{ author: 'customer', body: FIRST }]);
    assert.equal(sink.messages().length, 1, 'no email to an unknown address');
    await server.stop();
  } finally {
    await sink.close();
  }
});
