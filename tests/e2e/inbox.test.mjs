// The agents' inbox at /inbox/: an agent signs in with the account made by
// `messenger-server create-admin`, stays signed in across reloads (the
// HttpOnly session cookie, which script cannot read), and signs out.

import assert from 'node:assert/strict';
import { Inbox, scenario } from './support.mjs';

scenario('an admin signs in to the inbox, stays signed in across a reload, and signs out', async (world) => {
  const admin = await world.createAdmin({ name: 'Ada Lovelace' });
  const profile = await world.launchProfile('agent');
  const inbox = new Inbox(await profile.open('about:blank'), world.server.origin);
  await inbox.open();

  // A wrong password is refused with a plain message, and nothing is kept.
  await inbox.signIn({ email: admin.email, password: 'not the password at all' });
  await assert.doesNotReject(() => inbox.error.getByText('Wrong email or password.').waitFor());
  assert.equal(await inbox.password.inputValue(), '', 'the wrong password is cleared');

  await inbox.signIn(admin);
  await inbox.signedInAs.waitFor();
  assert.match(await inbox.signedInAs.innerText(), /Ada Lovelace\s*admin/);
  const cookies = await profile.context.cookies(world.server.origin);
  const session = cookies.find((c) => c.name === 'mw_session');
  assert.ok(session, 'a session cookie is set');
  assert.equal(session.httpOnly, true, 'script cannot read it');
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await inbox.page.evaluate(() => document.cookie), '', 'no cookie is visible to script');

  await inbox.page.reload();
  await inbox.signedInAs.waitFor();

  await inbox.signOutButton.click();
  await inbox.email.waitFor();
  await inbox.page.reload();
  await inbox.email.waitFor();
  assert.equal(await inbox.signedInAs.count(), 0, 'signed out for good');
});
