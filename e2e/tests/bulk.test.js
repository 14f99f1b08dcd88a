// Bulk invitations and the Team page's tools, with JavaScript on: several addresses at once
// through the invite dialog (with a repeat and an invalid one) and the per-address result,
// sorting and filtering the tables, "Export members as CSV", the CSV import (upload, preview,
// send, result), and invite links (create, copy, join from a fresh browser profile through the
// link mailed to prove the address, a used link, revoke with its confirmation). Every page and state goes through lib/checks.js.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, newPage } from '../lib/browser.js';
import { startServer } from '../lib/server.js';
import { Checks } from '../lib/checks.js';
import { flash, logIn, openMailbox, openTeam } from '../lib/app.js';

const ORG = 'Bulk Bakery';
const OWNER = { email: 'bea@bulk.test', name: 'Bea Baker', password: 'bea-password-123' };
// Invited through the dialog; mixed up on purpose so the sorted order differs from the typed one.
const TYPED = ['zoe@example.test', 'adam@example.test', 'mia@example.test'];
// Invited through the CSV import.
const QUINN = 'quinn@example.test';
const SAM = 'sam@example.test';
// Seeded as a second Owner; the owner makes her an Admin, whose ceiling is below Owner.
const ALMA = { email: 'alma@bulk.test', name: 'Alma Admin', password: 'alma-password-12' };
// Joins through an invite link.
const LINKER = { email: 'lena.link@example.test', name: 'Lena Link', password: 'lena-password-1' };

const DASHBOARD = /\/orgs\/[0-9a-f-]+$/;
const TEAM = /\/orgs\/[0-9a-f-]+\/team$/;

const checks = new Checks(import.meta.filename);
let server;
let browser;
let owner; // the owner's page, signed in for the whole file

before(async () => {
  server = await startServer({
    orgs: [OWNER, ALMA].map((p) => ({
      name: ORG, plan: 'starter', ownerEmail: p.email, ownerName: p.name, password: p.password,
    })),
  });
  browser = await launch();
  // The Copy button writes to the clipboard; the test reads it back.
  owner = await newPage(await newContext(browser, { permissions: ['clipboard-read', 'clipboard-write'] }));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A signed-out visitor in a fresh browser profile. */
async function stranger() {
  return newPage(await newContext(browser));
}

/** The text of `locator`, white space collapsed, so a row reads as one line. */
async function text(locator) {
  return (await locator.textContent()).replace(/\s+/g, ' ').trim();
}

async function assertVisible(locator) {
  await locator.first().waitFor({ state: 'visible' });
}

/** The <section> of the Team page whose heading matches `name`. */
function section(page, name) {
  return page.locator('section', { has: page.getByRole('heading', { name }) });
}

const pending = (page) => section(page, /^Pending invitations/);
const links = (page) => section(page, /^Invite links/);

/** The first cell of every body row of the Pending invitations table. */
async function pendingEmails(page) {
  return pending(page).locator('tbody tr td:first-child').allTextContents()
    .then((cells) => cells.map((c) => c.trim()));
}

describe('inviting several people at once', () => {
  test('the owner logs in and opens Team Management, with the bulk tools', async () => {
    await logIn(owner, server.base, OWNER.email, OWNER.password);
    await openTeam(owner);
    assert.equal(await owner.getByRole('heading', { level: 1 }).textContent(), 'Team Management');
    await assertVisible(owner.getByRole('link', { name: 'Import CSV' }));
    await assertVisible(owner.getByRole('link', { name: 'Create invite link' }));
    await assertVisible(owner.getByRole('link', { name: 'Export members as CSV' }));
    await assertVisible(owner.getByRole('button', { name: 'Invite Team Member' }));
    await assertVisible(links(owner).getByText('No active invite links.'));
  });

  test('the dialog takes several addresses; the result lists every one typed', async () => {
    await owner.getByRole('button', { name: 'Invite Team Member' }).click();
    const dialog = owner.getByRole('dialog', { name: 'Invite Team Member' });
    await assertVisible(dialog);
    // Three new addresses, one of them typed twice, and one that is no address at all.
    await dialog.getByLabel('Email addresses').fill(
      `${TYPED[0]}\n${TYPED[1]}, ${TYPED[2]}\n${TYPED[1]}\nnot-an-address`,
    );
    await dialog.getByLabel('Role', { exact: true }).selectOption('viewer');
    await dialog.getByRole('button', { name: 'Send Invitation' }).click();
    await owner.waitForURL(TEAM);

    assert.match(await flash(owner).textContent(),
      /3 invitations sent, 0 resent, 1 skipped, 1 invalid: adam@example\.test \(listed more than once\), not-an-address \(invalid address/);
    const result = section(owner, 'Result of your invitations');
    await assertVisible(result);
    assert.match(await result.textContent(), /3 invitations sent, 0 resent, 1 skipped, 1 invalid/);
    const rows = result.getByRole('row');
    assert.equal(await rows.count(), 1 + 5, 'one row per address typed, under a header row');
    const body = result.locator('tbody tr');
    const cells = await body.locator('td:first-child').allTextContents();
    assert.deepEqual(cells.map((c) => c.trim()),
      [TYPED[0], TYPED[1], TYPED[2], TYPED[1], 'not-an-address'], 'in the order typed');
    for (const i of [0, 1, 2]) assert.match(await body.nth(i).textContent(), /Sent/);
    assert.match(await body.nth(3).textContent(), /Skipped: listed more than once \(invited once\)/);
    assert.match(await body.nth(4).textContent(), /Invalid address/);
    await checks.page(owner, 'Team page: bulk invitation result');

    assert.deepEqual((await pendingEmails(owner)).sort(), [...TYPED].sort());
    assert.match(await owner.getByRole('heading', { name: /^Pending invitations/ }).textContent(), /\(3\)/);
  });

  test('"Email" sorts the pending invitations, ascending then descending', async () => {
    const header = () => pending(owner).getByRole('columnheader', { name: /^Email/ });
    assert.equal(await header().getAttribute('aria-sort'), null, 'not the sort at first');
    await header().getByRole('link').click();
    await owner.waitForURL(/pending_sort=email/);
    assert.equal(await header().getAttribute('aria-sort'), 'ascending');
    assert.deepEqual(await pendingEmails(owner), [...TYPED].sort());
    // The other columns are not the sort.
    assert.equal(await pending(owner).getByRole('columnheader', { name: /^Role/ }).getAttribute('aria-sort'), null);
    // The link says what it will do next, for screen readers.
    assert.match(await header().getByRole('link').textContent(), /sort by Email, descending/);
    await checks.page(owner, 'Team page: pending sorted by email, ascending');

    await header().getByRole('link').click();
    await owner.waitForURL(/pending_dir=desc/);
    assert.equal(await header().getAttribute('aria-sort'), 'descending');
    assert.deepEqual(await pendingEmails(owner), [...TYPED].sort().reverse());
    await checks.page(owner, 'Team page: pending sorted by email, descending');
  });

  test('"Filter by email or name" narrows every table, and "Clear filter" undoes it', async () => {
    await owner.getByLabel('Filter by email or name').fill('adam');
    await owner.getByRole('search').getByRole('button', { name: 'Filter' }).click();
    await owner.waitForURL(/[?&]q=adam/);
    assert.equal(await owner.getByLabel('Filter by email or name').inputValue(), 'adam', 'the filter is kept');
    assert.match(await owner.getByRole('heading', { name: /^Members/ }).textContent(), /\(0 matching\)/);
    assert.match(await owner.getByRole('heading', { name: /^Pending invitations/ }).textContent(), /\(1 matching\)/);
    assert.match(await owner.getByRole('heading', { name: /^Invitation history/ }).textContent(), /\(0 matching\)/);
    await assertVisible(owner.getByText('No member matches “adam”.'));
    assert.deepEqual(await pendingEmails(owner), [TYPED[1]]);
    // The sort chosen before survives the filter.
    assert.equal(await pending(owner).getByRole('columnheader', { name: /^Email/ }).getAttribute('aria-sort'), 'descending');
    await checks.page(owner, 'Team page: filtered');

    await owner.getByRole('link', { name: 'Clear filter' }).click();
    await owner.waitForURL(TEAM);
    assert.equal(await owner.getByLabel('Filter by email or name').inputValue(), '');
    assert.doesNotMatch(await owner.getByRole('heading', { name: /^Pending invitations/ }).textContent(), /matching/);
    assert.equal(await owner.getByRole('link', { name: 'Clear filter' }).count(), 0);
    assert.equal((await pendingEmails(owner)).length, 3);
  });

  test('a filter that matches nothing says so', async () => {
    await owner.getByLabel('Filter by email or name').fill('nobody-at-all');
    await owner.getByLabel('Filter by email or name').press('Enter');
    await owner.waitForURL(/[?&]q=nobody-at-all/);
    await assertVisible(owner.getByText('No pending invitation matches “nobody-at-all”.'));
    assert.match(await owner.getByRole('heading', { name: /^Pending invitations/ }).textContent(), /\(0 matching\)/);
    await checks.page(owner, 'Team page: filter matching nothing');
    await owner.getByRole('link', { name: 'Clear filter' }).click();
    await owner.waitForURL(TEAM);
  });
});

describe('Export members as CSV', () => {
  test('the link downloads a CSV file with the header and the members', async () => {
    const link = owner.getByRole('link', { name: 'Export members as CSV' });
    assert.equal(await link.getAttribute('download'), '', 'the link is a download');
    const href = await link.getAttribute('href');
    assert.match(href, /\/team\/members\.csv/);
    // page.request shares the page's cookies (the session).
    const res = await owner.request.get(new URL(href, owner.url()).toString());
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/csv/);
    assert.match(res.headers()['content-disposition'] ?? '', /attachment; filename="?members-\d{4}-\d\d-\d\d\.csv/);
    const lines = (await res.text()).split(/\r?\n/).filter((l) => l !== '');
    assert.equal(lines[0], 'name,email,role,department,joined,invited_by');
    assert.equal(lines.length, 3, 'the header and the two members');
    for (const person of [OWNER, ALMA]) {
      assert.ok(lines.some((l) => new RegExp(`^${person.name},${person.email.replace(/\./g, '\\.')},Owner,,\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ,$`).test(l)),
        `a line for ${person.email}`);
    }
  });

  test('signed out, the export is not served', async () => {
    const page = await stranger();
    const href = await owner.getByRole('link', { name: 'Export members as CSV' }).getAttribute('href');
    const res = await page.request.get(new URL(href, server.base).toString(), { maxRedirects: 0 });
    assert.equal(res.status(), 303, 'sent to log in');
    assert.match(res.headers().location ?? '', /^\/login\?next=/);
    assert.doesNotMatch(res.headers()['content-type'] ?? '', /text\/csv/);
    await page.context().close();
  });
});

describe('CSV import', () => {
  const FILE = [
    'email,role,department,message',
    `${QUINN},editor,Sales,Welcome to the team!`,
    'not-an-email,viewer,,',
    'rex@example.test,superuser,,',
    `${SAM},viewer,=1+2,`,
    '',
  ].join('\n');

  test('"Import CSV" opens the upload page', async () => {
    await owner.getByRole('link', { name: 'Import CSV' }).click();
    await owner.waitForURL(/\/invitations\/import$/);
    assert.equal(await owner.getByRole('heading', { level: 1 }).textContent(), 'Import invitations from a CSV file');
    await assertVisible(owner.getByText('email,role,department,message', { exact: true }));
    await assertVisible(owner.getByRole('link', { name: 'Download an example file' }));
    await checks.page(owner, 'CSV import: upload');
  });

  test('an upload shows a preview of every row before anything is sent', async () => {
    await owner.getByLabel('CSV file').setInputFiles({
      name: 'new-staff.csv', mimeType: 'text/csv', buffer: Buffer.from(FILE, 'utf8'),
    });
    await owner.getByRole('button', { name: 'Upload and preview' }).click();
    await owner.waitForURL(/\/invitations\/import\/[^/]+$/);
    assert.equal(await owner.getByRole('heading', { level: 1 }).textContent(), 'Preview: new-staff.csv');
    const summary = owner.locator('.import-summary');
    assert.match((await summary.textContent()).replace(/\s+/g, ' '),
      /4 rows: 2 will be sent, 0 will be sent again with the same link, 0 will replace a pending invitation, 0 skipped, 2 invalid\./);
    await assertVisible(owner.getByText('Nothing has been sent yet.', { exact: false }));

    const table = owner.getByRole('table', { name: /Rows 1–4 of 4/ });
    const row = (line) => table.getByRole('row').filter({ has: owner.getByRole('rowheader', { name: String(line), exact: true }) });
    assert.equal(await table.locator('tbody tr').count(), 4, 'every row of the file');
    assert.match(await text(row(2)), new RegExp(`${QUINN}.*Will send.*New invitation as Editor`));
    assert.match(await text(row(3)), /not-an-email.*Invalid.*email:/);
    assert.match(await text(row(4)), /rex@example\.test.*superuser.*Invalid.*unknown role "superuser"/);
    // A formula is shown as typed: data, never evaluated.
    assert.equal((await row(5).getByRole('cell').nth(2).textContent()).trim(), '=1+2');
    assert.match(await text(row(5)), /Will send.*New invitation as Viewer/);
    assert.equal(await owner.getByRole('button', { name: 'Cancel' }).count(), 1);
    await checks.page(owner, 'CSV import: preview');
  });

  test('"Send 2 invitations" sends the valid rows and shows what happened to each', async () => {
    await owner.getByRole('button', { name: 'Send 2 invitations' }).click();
    await assertVisible(owner.getByRole('heading', { level: 1, name: 'Import sent: new-staff.csv' }));
    const table = owner.getByRole('table', { name: /What happened to each row \(2 sent, 0 sent again, 0 skipped, 2 invalid\)/ });
    await assertVisible(table);
    assert.equal(await table.locator('tbody tr').count(), 4);
    assert.match(await text(table.getByRole('row').filter({ hasText: QUINN })), /Sent.*New invitation/);
    assert.match(await text(table.getByRole('row').filter({ hasText: SAM })), /Sent.*New invitation/);
    assert.match(await text(table.getByRole('row').filter({ hasText: 'rex@example.test' })), /Invalid/);
    await checks.page(owner, 'CSV import: result');
    // The result has its own address: reloading shows it again and sends nothing twice.
    await owner.waitForURL(/\/invitations\/import\/[^/]+\/result$/);
    await owner.reload();
    await assertVisible(owner.getByRole('heading', { level: 1, name: 'Import sent: new-staff.csv' }));
    await assertVisible(owner.getByRole('table', { name: /2 sent, 0 sent again, 0 skipped, 2 invalid/ }));
  });

  test('back on Team, the imported invitations are pending with their roles', async () => {
    await owner.getByRole('link', { name: 'Back to Team Management' }).click();
    await owner.waitForURL(TEAM);
    const emails = await pendingEmails(owner);
    assert.deepEqual([...emails].sort(), [...TYPED, QUINN, SAM].sort());
    assert.match(await pending(owner).getByRole('row').filter({ hasText: QUINN }).textContent(), /Editor/);
    assert.match(await pending(owner).getByRole('row').filter({ hasText: SAM }).textContent(), /Viewer/);
    assert.equal(await pending(owner).getByRole('row').filter({ hasText: 'rex@example.test' }).count(), 0);
    assert.equal(await pending(owner).getByRole('row').filter({ hasText: 'not-an-email' }).count(), 0);
  });
});

describe('invite links', () => {
  let editorLink;
  let mailedLink;

  test('"Create invite link" opens the form', async () => {
    await owner.getByRole('link', { name: 'Create invite link' }).click();
    await owner.waitForURL(/\/invite-links\/new$/);
    assert.equal(await owner.getByRole('heading', { level: 1 }).textContent(), 'Create invite link');
    await assertVisible(owner.getByRole('group', { name: 'Expires after' }));
    await checks.page(owner, 'Invite link: create form');
  });

  test('a link for Editor, 48 hours: shown once, read-only, with Copy', async () => {
    await owner.getByLabel('Role').selectOption('editor');
    await owner.getByRole('group', { name: 'Expires after' }).getByLabel('48 hours').check();
    await owner.getByRole('button', { name: 'Create invite link' }).click();
    await assertVisible(owner.getByRole('heading', { level: 1, name: 'Invite link created' }));
    await assertVisible(owner.getByText('this link is shown only once', { exact: false }));
    assert.match(await owner.getByRole('main').textContent(), /join once as\s+Editor[\s\S]*expires in 48 hours/);
    const field = owner.getByLabel('Invite link');
    assert.equal(await field.getAttribute('readonly'), '');
    assert.equal(await field.isEditable(), false);
    editorLink = await field.inputValue();
    assert.match(editorLink, /^http:\/\/127\.0\.0\.1:\d+\/join\/[A-Za-z0-9_-]{20,}$/);
    const copy = owner.getByRole('button', { name: 'Copy' });
    await assertVisible(copy);
    await checks.page(owner, 'Invite link: created');

    await copy.click();
    await assertVisible(owner.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }));
    assert.equal(await owner.evaluate(() => navigator.clipboard.readText()), editorLink);
    await assertVisible(owner.getByRole('button', { name: 'Copied' }));
  });

  test('the Team page lists it under "Invite links"', async () => {
    await owner.getByRole('link', { name: 'Back to Team' }).click();
    await owner.waitForURL(TEAM);
    assert.match(await owner.getByRole('heading', { name: /^Invite links/ }).textContent(), /\(1\)/);
    const row = links(owner).locator('tbody tr');
    assert.equal(await row.count(), 1);
    assert.match(await text(row), new RegExp(`^Editor ${OWNER.name} just now in 2 days Revoke Editor link created just now$`));
    assert.doesNotMatch(await owner.content(), /\/join\//, 'the link itself is never shown again');
    await checks.page(owner, 'Team page: an invite link');
  });

  test('someone signed out follows the link and asks for an email that proves their address', async () => {
    const page = await stranger();
    const res = await page.goto(editorLink);
    assert.equal(res.status(), 200);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), `Join ${ORG}`);
    await assertVisible(page.getByText(`invited you to join ${ORG} as Editor`, { exact: false }));
    const form = page.locator('form.register-form');
    await assertVisible(form.getByLabel('Email'));
    assert.equal(await form.getByLabel('Password').count(), 0, 'no password before the address is proved');
    await checks.page(page, 'Join: signed out');

    await form.getByLabel('Email').fill(LINKER.email);
    await form.getByRole('button', { name: 'Email me a link to join' }).click();
    await assertVisible(page.getByRole('heading', { level: 1, name: 'Check your email' }));
    await assertVisible(page.getByText(LINKER.email));
    await checks.page(page, 'Join: check your email');

    const mails = await openMailbox(page, LINKER.email);
    mailedLink = await mails.first().locator('a[href*="/signup/"]').first().getAttribute('href');
    assert.match(mailedLink, /\/signup\/[A-Za-z0-9_-]{32}$/);
    await page.context().close();
  });

  test('the link from the email asks for a name and a password, creates the account and joins', async () => {
    const page = await stranger();
    const res = await page.goto(mailedLink);
    assert.equal(res.status(), 200);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), `Join ${ORG}`);
    await assertVisible(page.getByText('Your email address is confirmed', { exact: false }));
    const form = page.locator('form.join-new-form');
    assert.equal(await form.getByLabel('Email').inputValue(), LINKER.email);
    await checks.page(page, 'Join: the mailed link, a new account');

    await form.getByLabel('Name').fill(LINKER.name);
    await form.getByLabel('Password').fill(LINKER.password);
    await form.getByRole('button', { name: 'Create account & join' }).click();
    await page.waitForURL(DASHBOARD);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), ORG);
    assert.match(await flash(page).textContent(), new RegExp(`You joined ${ORG} as Editor`));
    await checks.page(page, 'Dashboard: joined through an invite link');
    await page.context().close();
  });

  test('the same link again says it has already been used', async () => {
    const page = await stranger();
    const res = await page.goto(editorLink);
    assert.equal(res.status(), 410);
    await assertVisible(page.getByRole('heading', { level: 1, name: 'This invite link has already been used' }));
    await assertVisible(page.getByText(`Ask ${ORG}'s admin for a new one.`, { exact: false }));
    assert.equal(await page.getByRole('button', { name: 'Email me a link to join' }).count(), 0);
    await checks.page(page, 'Join: link already used');

    const mailed = await page.goto(mailedLink);
    assert.equal(mailed.status(), 410);
    await assertVisible(page.getByRole('heading', { level: 1, name: 'This invite link has already been used' }));
    assert.equal(await page.getByRole('button', { name: 'Create account & join' }).count(), 0);
    await page.context().close();
  });

  test('the Team page shows the new member, and the used link is gone', async () => {
    await owner.reload();
    const members = section(owner, /^Members/);
    await assertVisible(members.getByRole('row').filter({ hasText: LINKER.email }).filter({ hasText: LINKER.name }));
    assert.equal(await members.getByLabel(`Role of ${LINKER.name}`).inputValue(), 'editor');
    assert.match(await owner.getByRole('heading', { name: /^Invite links/ }).textContent(), /\(0\)/);
    await assertVisible(links(owner).getByText('No active invite links.'));
  });

  test('Revoke asks first, then the link stops working', async () => {
    // A second link, Viewer with the default expiry.
    await owner.getByRole('link', { name: 'Create invite link' }).click();
    await owner.waitForURL(/\/invite-links\/new$/);
    assert.equal(await owner.getByLabel('Role').inputValue(), 'viewer', 'Viewer is the default');
    await owner.getByRole('button', { name: 'Create invite link' }).click();
    await assertVisible(owner.getByRole('heading', { level: 1, name: 'Invite link created' }));
    const viewerLink = await owner.getByLabel('Invite link').inputValue();
    await owner.getByRole('link', { name: 'Back to Team' }).click();
    await owner.waitForURL(TEAM);

    const row = links(owner).locator('tbody tr').filter({ hasText: 'Viewer' });
    assert.equal(await row.count(), 1);
    await row.getByRole('link', { name: /^Revoke Viewer link created/ }).click();
    await owner.waitForURL(/\/invite-links\/[^/]+\/revoke$/);
    assert.equal(await owner.getByRole('heading', { level: 1 }).textContent(), 'Revoke invite link?');
    await assertVisible(owner.getByText('will stop working at once', { exact: false }));
    await assertVisible(owner.getByRole('link', { name: 'Cancel' }));
    await checks.page(owner, 'Invite link: revoke confirmation');

    await owner.getByRole('button', { name: 'Revoke invite link' }).click();
    await owner.waitForURL(TEAM);
    assert.match(await flash(owner).textContent(), /The invite link for Viewer was revoked; it no longer works\./);
    assert.equal(await links(owner).locator('tbody tr').count(), 0);
    await assertVisible(links(owner).getByText('No active invite links.'));
    await checks.page(owner, 'Team page: invite link revoked');

    const page = await stranger();
    const res = await page.goto(viewerLink);
    assert.equal(res.status(), 410);
    await assertVisible(page.getByRole('heading', { level: 1, name: 'This invite link has been revoked' }));
    await checks.page(page, 'Join: link revoked');
    await page.context().close();
  });
});

describe('CSV import by an Admin', () => {
  test('a role above the importer\'s own is listed as invalid and not sent', async () => {
    await owner.goto(owner.url().replace(/\/orgs\/([0-9a-f-]+).*$/, '/orgs/$1/team'));
    await owner.getByLabel(`Role of ${ALMA.name}`).selectOption('admin');
    await owner.getByRole('button', { name: `Change role of ${ALMA.name}` }).click();
    await owner.waitForURL(TEAM);
    assert.match(await flash(owner).textContent(), /Role changed from Owner to Admin/);

    const page = await stranger();
    await logIn(page, server.base, ALMA.email, ALMA.password);
    await openTeam(page);
    await page.getByRole('link', { name: 'Import CSV' }).click();
    await page.waitForURL(/\/invitations\/import$/);
    await page.getByLabel('CSV file').setInputFiles({
      name: 'owners.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('email,role,department,message\nolaf@example.test,owner,,\nwes@example.test,Writer,,\n'),
    });
    await page.getByRole('button', { name: 'Upload and preview' }).click();
    await page.waitForURL(/\/invitations\/import\/[^/]+$/);
    const table = page.getByRole('table', { name: /Rows 1–2 of 2/ });
    assert.match(await text(table.getByRole('row').filter({ hasText: 'olaf@example.test' })),
      /Invalid you cannot invite someone as Owner: you may only assign roles at or below your own/);
    assert.match(await text(table.getByRole('row').filter({ hasText: 'wes@example.test' })), /Will send New invitation as Writer/);
    await checks.page(page, 'CSV import: preview by an Admin, role above the ceiling');
    await page.getByRole('button', { name: 'Send 1 invitation' }).click();
    await assertVisible(page.getByRole('heading', { level: 1, name: 'Import sent: owners.csv' }));
    await page.getByRole('link', { name: 'Back to Team Management' }).click();
    await page.waitForURL(TEAM);
    await assertVisible(pending(page).getByRole('row').filter({ hasText: 'wes@example.test' }));
    assert.equal(await pending(page).getByRole('row').filter({ hasText: 'olaf@example.test' }).count(), 0);
    await page.context().close();
  });
});
