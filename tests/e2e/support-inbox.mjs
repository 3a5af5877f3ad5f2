// Helpers of the inbox's site and accessibility tests: signing agents in,
// customers writing through the customer API (no browser needed for them),
// sites made through the inbox API, and axe-core runs on a page.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Inbox } from './support.mjs';

const require = createRequire(import.meta.url);
const axe = require('axe-core');

/** The WCAG 2.2 A and AA rule sets of axe-core. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * axe-core's WCAG violations on `page` as {id, impact, help, targets}. The
 * script goes in through the DevTools protocol (page.evaluate), which the
 * inbox's CSP does not apply to.
 */
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axe.source);
  return page.evaluate(async (tags) => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  }, WCAG_TAGS);
}

/** Readable lines for a failure message. */
export function formatViolations(byState) {
  return Object.entries(byState)
    .flatMap(([state, violations]) =>
      violations.map((v) => `[${state}] ${v.id} (${v.impact}): ${v.help}\n    ${v.targets.join('\n    ')}`),
    )
    .join('\n');
}

/** An inbox in a new profile, signed in as `credentials`. */
export async function signedInInbox(world, credentials, profileName = 'agent') {
  const profile = await world.launchProfile(profileName);
  const inbox = new Inbox(await profile.open('about:blank'), world.server.origin);
  await inbox.open();
  await inbox.signIn(credentials);
  return inbox;
}

/** An inbox API session (cookie and CSRF token) of `credentials`. */
export function apiSession(world, credentials) {
  return world.server.inboxSignIn(credentials);
}

/** Creates an agent (not an admin) with the admin's API session. */
export async function createAgent(world, adminSession, { email = 'grace@example.com', name = 'Grace', password = 'a long first password' } = {}) {
  const { status, body } = await world.server.inboxRequest(adminSession, 'POST', '/agents', {
    email,
    name,
    password,
    role: 'agent',
  });
  assert.equal(status, 201, `create agent: ${JSON.stringify(body)}`);
  return { email, name, password };
}

/** Creates a site through the inbox API; its SiteAdmin and secret. */
export async function createSite(world, adminSession, settings) {
  const { status, body } = await world.server.inboxRequest(adminSession, 'POST', '/sites', settings);
  assert.equal(status, 201, `create site: ${JSON.stringify(body)}`);
  return body;
}

/** The sites as GET /api/v1/inbox/sites lists them. */
export async function listSites(world, session) {
  const { status, body } = await world.server.inboxRequest(session, 'GET', '/sites');
  assert.equal(status, 200, `list sites: ${JSON.stringify(body)}`);
  return body.sites;
}

/**
 * A customer starts a conversation on site `site` (a key; the default site
 * when absent) and writes `text`, through the customer API as the frame
 * would, from `origin`. Returns the conversation's id.
 */
export async function customerSays(world, text, { site, origin } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (site) headers['x-messenger-site'] = site;
  if (origin) headers['x-messenger-origin'] = origin;
  const started = await fetch(`${world.server.origin}/api/v1/conversations`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ page_url: 'https://shop.example/cart', language: 'en' }),
  });
  const conversation = await started.json();
  assert.equal(started.status, 201, `start conversation: ${JSON.stringify(conversation)}`);
  const sent = await fetch(`${world.server.origin}/api/v1/conversation/messages`, {
    method: 'POST',
    headers: { ...headers, authorization: `Bearer ${conversation.token}` },
    body: JSON.stringify({ client_id: randomUUID(), body: text }),
  });
  assert.ok(sent.ok, `send message: ${sent.status} ${await sent.text()}`);
  return conversation.conversation.id;
}

/** The public widget configuration of site `key`, asked from `origin`. */
export async function widgetConfig(world, key, { origin, lang } = {}) {
  const query = lang ? `?lang=${encodeURIComponent(lang)}` : '';
  const response = await fetch(`${world.server.origin}/api/v1/sites/${encodeURIComponent(key)}/widget${query}`, {
    headers: origin ? { origin } : {},
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Opens Settings in the inbox and waits for the sites to be listed. */
export async function openSettings(inbox) {
  await inbox.page.getByTestId('open-settings').click();
  await inbox.page.getByTestId('sites').getByTestId('site-item').first().waitFor();
}
