// Helpers of the panel's tests (identity, rtl, language, a11y-widget): signed
// identities (HS256 JWTs made here with node's crypto, as a site's backend
// would), host pages that embed a given site, and what the panel shows.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { Messenger } from './support.mjs';
import { STUB, embedHtml, siteSettings } from './support-loader.mjs';

const base64url = (data) => Buffer.from(data).toString('base64url');

/**
 * A JWT (HS256) for `claims`, signed with `secret`; `exp` defaults to ten
 * minutes from now. What a site's backend hands its page for `identify`.
 */
export function signIdentity(secret, claims) {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const now = Math.floor(Date.now() / 1000);
  const payload = base64url(JSON.stringify({ iat: now, exp: now + 600, ...claims }));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Signs in as an admin once per world; creates sites through the inbox API. */
export class Sites {
  #session = null;

  constructor(world) {
    this.world = world;
  }

  async #admin() {
    if (!this.#session) {
      const admin = await this.world.createAdmin();
      this.#session = await this.world.server.inboxSignIn(admin);
    }
    return this.#session;
  }

  /** Creates a site with `overrides`; returns {site: SiteAdmin, secret}. */
  async create(overrides = {}) {
    const session = await this.#admin();
    const { status, body } = await this.world.server.inboxRequest(session, 'POST', '/sites', siteSettings(overrides));
    assert.equal(status, 201, `POST /api/v1/inbox/sites: ${JSON.stringify(body)}`);
    return body;
  }
}

/**
 * Serves a host page at `path` embedding the widget of site `key` (with the
 * JS API's queue stub and `calls`, JavaScript run before the loader, e.g.
 * `Messenger('identify', …)`); returns its URL.
 */
export function sitePage(world, path, key, { calls = '', attributes = {} } = {}) {
  return world.host.page(
    path,
    embedHtml({
      serverOrigin: world.server.origin,
      attributes: { site: key, ...attributes },
      before: `<script>${STUB}\n${calls}</script>`,
    }),
  );
}

/** The panel of a page, with what the tests of this file look at. */
export class Panel extends Messenger {
  constructor(page) {
    super(page);
    this.claimCard = this.frame.locator('[data-testid=claim-card]');
    this.claimAdd = this.frame.locator('[data-testid=claim-add]');
    this.claimLater = this.frame.locator('[data-testid=claim-later]');
    this.announcer = this.frame.locator('[data-testid=announcer]');
    this.greeting = this.frame.locator('[data-testid=greeting]');
    this.html = this.frame.locator('html');
  }

  /** The bodies of the messages shown, in order. */
  async bodies() {
    return this.frame.locator('[data-testid=message-body]').allTextContents();
  }

  /** Waits until the panel shows exactly `expected` (message bodies). */
  async shows(expected, what = 'the messages shown') {
    const { eventually } = await import('./support.mjs');
    await eventually(async () => assert.deepEqual(await this.bodies(), expected), { what });
  }
}

/** Every localStorage key of the host page that belongs to the messenger. */
export function messengerKeys(page) {
  return page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('messenger')));
}

/** axe-core's source, to inject in a page or frame. */
export const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The WCAG 2.x A and AA rules, up to 2.2. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * Runs axe in `target` (a Page or a Frame; `include`: a CSS selector to
 * restrict it to) and returns the violations, each as a readable line.
 */
export async function axeViolations(target, include = null) {
  if (!(await target.evaluate(() => typeof window.axe === 'object'))) {
    await target.evaluate(AXE_SOURCE);
  }
  const violations = await target.evaluate(
    async ({ tags, include }) => {
      const result = await window.axe.run(include ? { include: [[include]] } : document, {
        runOnly: { type: 'tag', values: tags },
        resultTypes: ['violations'],
      });
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
      }));
    },
    { tags: AXE_TAGS, include },
  );
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`);
}
