// Who may get in, in a browser with JavaScript off (every page works without app.js): an Owner
// verifies a domain with the code from the mailbox and sets it to Automatic; a colleague at that
// domain sees "Organizations you can join" and joins at once; with Suggest, a colleague sends a
// join request with a note, and the Owner approves it on the Team page choosing the role, after
// which the colleague's mailbox says so; an organization with no free seat
// refuses a domain join naming only itself, and tells its Owner "All … seats are in use" when
// inviting. Every page and state goes through lib/checks.js (axe and HTML validity).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, newPage } from '../lib/browser.js';
import { startServer } from '../lib/server.js';
import { Checks } from '../lib/checks.js';
import { flash, logIn, openMailbox, openTeam } from '../lib/app.js';

const CEDAR = 'Cedar Works';
const CLEO = { email: 'cleo@cedar.test', name: 'Cleo Cedar', password: 'cleo-password-12' };
// Carl has an address at cedar.test and an organization of his own.
const CARL = { email: 'carl@cedar.test', name: 'Carl Cedar', password: 'carl-password-12' };
const DUNE = 'Dune Labs';
const DANA = { email: 'dana@dune.test', name: 'Dana Dune', password: 'dana-password-12' };
const DAVE = { email: 'dave@dune.test', name: 'Dave Dune', password: 'dave-password-12' };

// Elm: Suggest. Eli has an address at elm.test and an organization of his own.
const ELM = 'Elm Studio';
const EMMA = { email: 'emma@elm.test', name: 'Emma Elm', password: 'emma-password-12' };
const ELI = { email: 'eli@elm.test', name: 'Eli Elm', password: 'eli-password-123' };

const checks = new Checks(import.meta.filename);
let server;
let browser;

before(async () => {
  const org = (name, person, extra = {}) => ({
    name, plan: 'starter', ownerEmail: person.email, ownerName: person.name, password: person.password, ...extra,
  });
  server = await startServer({
    orgs: [
      org(CEDAR, CLEO),
      org("Carl's Side Project", CARL),
      org(DUNE, DANA, { seats: 1 }),
      org("Dave's Garage", DAVE),
      org(ELM, EMMA),
      org("Eli's Bench", ELI),
    ],
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function person() {
  return newPage(await newContext(browser, { javaScriptEnabled: false }));
}

/** As an Owner on the dashboard: verifies `domain` with the code mailed to `email`. */
async function verifyDomain(page, domain, email, name) {
  await page.getByRole('link', { name: 'Domains' }).click();
  await page.waitForURL(/\/settings\/domains$/);
  await checks.page(page, `${name}: Domains, none yet`);
  await page.getByLabel('Domain', { exact: true }).fill(domain);
  await page.getByLabel('Send the code to').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.waitForURL(/\/settings\/domains$/);
  assert.match(await flash(page).textContent(), new RegExp(`We sent a 6-digit code to ${email}`));
  await checks.page(page, `${name}: Domains, code sent`);
  const back = page.url();
  const mails = await openMailbox(page, email);
  const subject = await mails.first().locator('h2').textContent();
  const code = /^(\d{6}) is your code to verify/.exec(subject)?.[1];
  assert.ok(code, `no code in “${subject}”`);
  await page.goto(back);
  const card = page.locator(`li[data-domain="${domain}"]`);
  await card.getByLabel('Verification code').fill(code === '000000' ? '111111' : '000000');
  await card.getByRole('button', { name: 'Verify' }).click();
  await page.locator('.field-error').first().waitFor();
  assert.match(await page.locator('.field-error').first().textContent(), /That code is not right\. 4 attempts left\./);
  await checks.page(page, `${name}: Domains, wrong code`);
  await page.locator(`li[data-domain="${domain}"]`).getByLabel('Verification code').fill(code);
  await page.locator(`li[data-domain="${domain}"]`).getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(/\/settings\/domains$/);
  assert.match(await flash(page).textContent(), new RegExp(`${domain} is verified`));
  await checks.page(page, `${name}: Domains, verified`);
}

/** On Settings → Domains: sets `domain` to `mode` (Automatic, Suggest) with `role`. */
async function enroll(page, domain, mode, role) {
  const card = page.locator(`li[data-domain="${domain}"]`);
  await card.getByRole('radio', { name: new RegExp(mode) }).check();
  await card.getByLabel('Role when joining automatically').selectOption({ label: role });
  await card.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/settings\/domains$/);
  assert.match(await flash(page).textContent(), new RegExp(`${domain} is now “${mode}”`));
}

/** On Settings → Domains: sets `domain` to Automatic with `role`. */
async function automatic(page, domain, role) {
  await enroll(page, domain, 'Automatic', role);
}

describe('a verified domain with automatic enrollment', () => {
  test('the Owner verifies cedar.test with the mailed code and chooses Automatic', async () => {
    const cleo = await person();
    await logIn(cleo, server.base, CLEO.email, CLEO.password);
    await verifyDomain(cleo, 'cedar.test', CLEO.email, 'Cedar');
    await automatic(cleo, 'cedar.test', 'Writer');
    await checks.page(cleo, 'Cedar: Domains, Automatic');
  });

  test('a colleague at cedar.test sees the organization and joins it at once', async () => {
    const carl = await person();
    await logIn(carl, server.base, CARL.email, CARL.password);
    const section = carl.getByRole('region', { name: 'Organizations you can join' });
    await section.waitFor();
    await checks.page(carl, 'Dashboard with organizations you can join');
    await section.getByRole('button', { name: `Join ${CEDAR}` }).click();
    await carl.waitForURL(/\/orgs\/[0-9a-f-]+$/);
    assert.equal(await flash(carl).locator('p').textContent(), `You joined ${CEDAR} as Writer.`);
    assert.equal(await carl.getByRole('heading', { level: 1 }).textContent(), CEDAR);
    await checks.page(carl, 'Dashboard after joining through the domain');
  });
});

describe('a verified domain with Suggest: a join request approved', () => {
  test('a colleague at elm.test asks to join with a note', async () => {
    const emma = await person();
    await logIn(emma, server.base, EMMA.email, EMMA.password);
    await verifyDomain(emma, 'elm.test', EMMA.email, 'Elm');
    await enroll(emma, 'elm.test', 'Suggest', 'Editor');
    const eli = await person();
    await logIn(eli, server.base, ELI.email, ELI.password);
    const section = eli.getByRole('region', { name: 'Organizations you can join' });
    await section.getByLabel('Note to the admins (optional)').fill('I design the chairs.');
    await checks.page(eli, 'Dashboard with a Suggest organization');
    await section.getByRole('button', { name: `Request to join ${ELM}` }).click();
    await eli.waitForURL(/\/orgs\/[0-9a-f-]+$/);
    assert.equal(await flash(eli).locator('p').textContent(),
      `Your request to join ${ELM} was sent. Its admins will answer by email.`);
    await eli.getByRole('region', { name: 'Organizations you can join' }).getByText('Request sent').waitFor();
    await checks.page(eli, 'Dashboard with a request sent');
  });

  test('the Owner approves it on the Team page, choosing the role, and Eli is told', async () => {
    const emma = await person();
    await logIn(emma, server.base, EMMA.email, EMMA.password);
    await openTeam(emma);
    const requests = emma.getByRole('region', { name: /Join requests/ });
    const row = requests.getByRole('row', { name: new RegExp(ELI.email) });
    await row.getByText('I design the chairs.').waitFor();
    await checks.page(emma, 'Team page with a join request');
    await row.getByLabel(`Role for ${ELI.name}`).selectOption({ label: 'Writer' });
    await row.getByRole('button', { name: /^Approve/ }).click();
    await emma.waitForURL(/\/team$/);
    assert.equal(await flash(emma).locator('p').textContent(), `${ELI.name} joined as Writer. They were told by email.`);
    assert.equal(await emma.getByRole('region', { name: /Join requests/ }).count(), 0);
    await checks.page(emma, 'Team page after approving');
    const eli = await person();
    await logIn(eli, server.base, ELI.email, ELI.password, /\/$/);
    const mails = await openMailbox(eli, ELI.email);
    assert.match(await mails.first().locator('h2').textContent(), new RegExp(`You joined ${ELM}`));
  });
});

describe('no free seat', () => {
  test('a domain join is refused naming only the organization', async () => {
    const dana = await person();
    await logIn(dana, server.base, DANA.email, DANA.password);
    await verifyDomain(dana, 'dune.test', DANA.email, 'Dune');
    await automatic(dana, 'dune.test', 'Viewer');
    const dave = await person();
    await logIn(dave, server.base, DAVE.email, DAVE.password);
    const section = dave.getByRole('region', { name: 'Organizations you can join' });
    await section.getByRole('button', { name: `Join ${DUNE}` }).click();
    await dave.getByText(`${DUNE} has no free seats: ask its admins`).waitFor();
    await checks.page(dave, 'Domain join at the seat cap');
  });

  test('the Owner is told all seats are in use when inviting', async () => {
    const dana = await person();
    await logIn(dana, server.base, DANA.email, DANA.password);
    await dana.getByRole('link', { name: 'Invite Team Member' }).click();
    await dana.getByLabel('Email addresses').fill('newcomer@dune.test');
    await dana.getByRole('button', { name: /^Send/ }).click();
    await dana.getByText('All 1 seats are in use', { exact: false }).first().waitFor();
    await checks.page(dana, 'Invite at the seat cap');
  });
});
