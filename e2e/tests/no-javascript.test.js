// The same flow with JavaScript off: every page works without app.js. "Invite Team Member" is
// a link to the invite form's own page, confirmations are pages or <details>, and the pages
// pass the same checks (axe runs on the same document in a second, script-free page).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, newPage } from '../lib/browser.js';
import { startServer } from '../lib/server.js';
import { Checks } from '../lib/checks.js';
import { flash, invitationLink, logIn, openTeam } from '../lib/app.js';

const ORG = 'Maple Media';
const OWNER = { email: 'mo@maple.test', name: 'Mo Maple', password: 'mo-password-123' };
const BOB = { email: 'bob@birch.test', name: 'Bob Birch', password: 'bob-password-12' };
const NEW = { email: 'sam.new@example.test', name: 'Sam New', password: 'sam-password-12' };
const DECLINER = 'dee@example.test';
const LATER = 'lee@example.test';

const checks = new Checks(import.meta.filename);
let server;
let browser;
let owner;

before(async () => {
  const org = (name, person) => ({
    name, plan: 'professional', ownerEmail: person.email, ownerName: person.name, password: person.password,
  });
  server = await startServer({ orgs: [org(ORG, OWNER), org('Birch Labs', BOB)] });
  browser = await launch();
  owner = await newPage(await newContext(browser, { javaScriptEnabled: false }));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function stranger() {
  return newPage(await newContext(browser, { javaScriptEnabled: false }));
}

async function assertVisible(locator) {
  await locator.first().waitFor({ state: 'visible' });
}

const pendingRow = (email) => owner
  .locator('section', { has: owner.getByRole('heading', { name: /Pending invitations/ }) })
  .getByRole('row').filter({ hasText: email });

describe('without JavaScript', () => {
  const links = {};

  test('"Invite Team Member" goes to the invite page', async () => {
    await logIn(owner, server.base, OWNER.email, OWNER.password);
    await openTeam(owner);
    await owner.getByRole('link', { name: 'Invite Team Member' }).click();
    await owner.waitForURL(/\/team\/invite$/);
    assert.match(await owner.title(), new RegExp(`Invite Team Member · ${ORG}`));
    await checks.page(owner, 'Invite page (no JavaScript)');
  });

  test('a submission with no valid address is refused with the input kept', async () => {
    await owner.getByLabel('Email addresses').fill('nobody-at-all');
    await owner.getByRole('button', { name: 'Send Invitation' }).click();
    await assertVisible(owner.locator('#invite-emails-error'));
    assert.match(await owner.locator('#invite-emails-error').textContent(), /No valid address: nobody-at-all/);
    assert.equal(await owner.getByLabel('Email addresses').inputValue(), 'nobody-at-all');
    await checks.page(owner, 'Invite page: error (no JavaScript)');
  });

  test('sends invitations; the message stays, with no Dismiss button to need a script', async () => {
    await owner.getByLabel('Email addresses').fill([NEW.email, BOB.email, DECLINER, LATER].join('\n'));
    await owner.getByLabel('Role').selectOption('writer');
    await owner.getByRole('button', { name: 'Send Invitation' }).click();
    await owner.waitForURL(/\/team$/);
    assert.match(await flash(owner).textContent(), /4 invitations sent, 0 resent, 0 skipped/);
    assert.equal(await owner.getByRole('button', { name: 'Dismiss message' }).isVisible(), false);
    await checks.page(owner, 'Team page: invitations sent (no JavaScript)');
    for (const email of [NEW.email, BOB.email, DECLINER, LATER]) links[email] = await invitationLink(owner, email);
  });

  test('signed in as another account: Log out comes back to the invitation', async () => {
    await owner.goto(links[NEW.email]);
    await assertVisible(owner.getByRole('heading', { name: 'Invitation email does not match your account' }));
    await checks.page(owner, 'Acceptance: another account (no JavaScript)');
    await owner.getByRole('main').getByRole('button', { name: 'Log out' }).click();
    await owner.waitForURL(links[NEW.email]);
    await assertVisible(owner.getByRole('button', { name: 'Create account & join' }));
    await logIn(owner, server.base, OWNER.email, OWNER.password);
  });

  test('new user: Create account & join', async () => {
    const page = await stranger();
    await page.goto(links[NEW.email]);
    await checks.page(page, 'Acceptance: new user (no JavaScript)');
    await page.getByLabel('Name').fill(NEW.name);
    await page.getByLabel('Password').fill(NEW.password);
    await page.getByRole('button', { name: 'Create account & join' }).click();
    await page.waitForURL(/\/orgs\/[0-9a-f-]+$/);
    assert.match(await flash(page).textContent(), new RegExp(`You joined ${ORG} as Writer`));
    await checks.page(page, 'Dashboard: joined (no JavaScript)');
    await page.context().close();
  });

  test('existing user, signed out: Log in & accept', async () => {
    const page = await stranger();
    await page.goto(links[BOB.email]);
    await checks.page(page, 'Acceptance: existing user (no JavaScript)');
    await page.getByLabel('Password').fill(BOB.password);
    await page.getByRole('button', { name: 'Log in & accept' }).click();
    await page.waitForURL(/\/orgs\/[0-9a-f-]+$/);
    assert.match(await flash(page).textContent(), new RegExp(`You joined ${ORG} as Writer`));
    await page.context().close();
  });

  test('declining asks first, without a script', async () => {
    const page = await stranger();
    await page.goto(links[DECLINER]);
    const confirm = page.getByRole('button', { name: 'Decline invitation' });
    assert.equal(await confirm.isVisible(), false);
    await page.getByText('Decline this invitation').click();
    await assertVisible(confirm);
    await checks.page(page, 'Acceptance: confirm declining (no JavaScript)');
    await confirm.click();
    await assertVisible(page.getByRole('heading', { name: 'Invitation declined' }));
    await page.context().close();
  });

  test('Resend', async () => {
    await openTeam(owner);
    await pendingRow(LATER).getByRole('button', { name: 'Resend' }).click();
    await owner.waitForURL(/\/team$/);
    assert.match(await flash(owner).textContent(), new RegExp(`Invitation sent again to ${LATER}`));
    await checks.page(owner, 'Team page: resent (no JavaScript)');
  });

  test('Revoke asks on its own page', async () => {
    await pendingRow(LATER).getByRole('link', { name: /Revoke/ }).click();
    await assertVisible(owner.getByRole('heading', { name: 'Revoke invitation?' }));
    await checks.page(owner, 'Revoke: confirmation (no JavaScript)');
    await owner.getByRole('button', { name: 'Revoke invitation' }).click();
    await owner.waitForURL(/\/team$/);
    assert.match(await flash(owner).textContent(), new RegExp(`The invitation to ${LATER} was revoked`));
    assert.equal(await pendingRow(LATER).count(), 0);
    await checks.page(owner, 'Team page: revoked (no JavaScript)');
  });
});
