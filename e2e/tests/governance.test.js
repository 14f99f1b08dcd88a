// The governance pages with JavaScript on: sign-up by email, members and roles (change a role,
// remove with its confirmation), leaving an organization, Billing, the audit log with a filter,
// the organization chooser and the header's "Switch organization" menu, and for platform staff
// the staff console (search, set a plan, send a tenant owner invitation), the tenant-owner
// acceptance page through to the new organization, and a Team page seen as staff. Every page
// and state goes through lib/checks.js.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, newPage } from '../lib/browser.js';
import { startServer } from '../lib/server.js';
import { Checks } from '../lib/checks.js';
import { flash, invitationLink, logIn, openMailbox, openTeam } from '../lib/app.js';

const GRANITE = 'Granite Co';
const PINE = 'Pine Studio';
const OLGA = { email: 'olga@granite.test', name: 'Olga Owner', password: 'olga-password-12' };
// Pete owns Granite Co too, and his own Pine Studio: a person in two organizations.
const PETE = { email: 'pete@pine.test', name: 'Pete Pine', password: 'pete-password-12' };
// Rita starts as a second Owner of Granite Co; Olga makes her an Admin, then removes her.
const RITA = { email: 'rita@granite.test', name: 'Rita Rock', password: 'rita-password-12' };
const STAFF = { email: 'sam@joinery.test', name: 'Sam Staff', password: 'sam-password-123' };
const SIGNUP = { email: 'sara.signup@example.test', name: 'Sara Signup', password: 'sara-password-1', company: 'Sara Studio' };
const TENANT = { email: 'tom.tenant@example.test', name: 'Tom Tenant', password: 'tom-password-12', company: 'Tenant Works' };

const checks = new Checks(import.meta.filename);
let server;
let browser;

function org(name, plan, person) {
  return { name, plan, ownerEmail: person.email, ownerName: person.name, password: person.password };
}

before(async () => {
  server = await startServer({
    orgs: [
      org(GRANITE, 'starter', OLGA),
      org(GRANITE, 'starter', PETE),
      org(GRANITE, 'starter', RITA),
      org(PINE, 'professional', PETE),
    ],
    staff: [STAFF],
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A visitor in a fresh browser profile. */
async function stranger() {
  return newPage(await newContext(browser));
}

async function assertVisible(locator) {
  await locator.first().waitFor({ state: 'visible' });
}

const DASHBOARD = /\/orgs\/[0-9a-f-]+$/;

describe('sign-up', () => {
  let page;

  test('the sign-up page, from "Sign up" on the log-in page', async () => {
    page = await stranger();
    await page.goto(server.base);
    await page.waitForURL(/\/login$/);
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.waitForURL(/\/signup$/);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign up');
    await checks.page(page, 'Sign up');
  });

  test('"Check your email" after submitting an address', async () => {
    await page.getByLabel('Email').fill(SIGNUP.email);
    await page.getByRole('button', { name: 'Email me a sign-up link' }).click();
    await assertVisible(page.getByRole('heading', { name: 'Check your email' }));
    await assertVisible(page.getByText(SIGNUP.email));
    await checks.page(page, 'Sign up: check your email');
  });

  test('the link from the email asks for a name, a password and a company name', async () => {
    const mails = await openMailbox(page, SIGNUP.email);
    const href = await mails.first().locator('a[href*="/signup/"]').first().getAttribute('href');
    assert.match(href, /\/signup\/[A-Za-z0-9_-]+$/);
    await page.goto(href);
    await assertVisible(page.getByRole('heading', { name: 'Finish signing up' }));
    assert.equal(await page.getByLabel('Email').inputValue(), SIGNUP.email);
    await checks.page(page, 'Sign-up link: finish signing up');
  });

  test('creates the account and lands on the new Trial organization', async () => {
    await page.getByLabel('Name', { exact: true }).fill(SIGNUP.name);
    await page.getByLabel('Password', { exact: true }).fill(SIGNUP.password);
    await page.getByLabel('Company name').fill(SIGNUP.company);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(DASHBOARD);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), SIGNUP.company);
    await assertVisible(page.locator('.facts').getByText('Trial', { exact: true }));
    await checks.page(page, 'Sign-up: new Trial organization dashboard');
    await page.context().close();
  });
});

describe('members and roles (an Owner)', () => {
  let page;

  test('the Team page lists members with a role selector and Remove', async () => {
    page = await stranger();
    await logIn(page, server.base, OLGA.email, OLGA.password);
    await openTeam(page);
    await assertVisible(page.getByLabel(`Role of ${RITA.name}`));
    await assertVisible(page.getByRole('link', { name: `Remove ${RITA.name}` }));
    await checks.page(page, 'Team page: members with roles');
  });

  test('changes a role', async () => {
    await page.getByLabel(`Role of ${RITA.name}`).selectOption('admin');
    // The members table is one form, and its busy label is the form's: note the button just
    // after the click, while the request is held (sessionStorage survives the navigation).
    await page.evaluate(() => {
      document.addEventListener('submit', (event) => {
        setTimeout(() => {
          const b = event.submitter;
          sessionStorage.setItem('busy', JSON.stringify({
            ariaBusy: b.getAttribute('aria-busy'), text: b.textContent.trim(), disabled: b.disabled,
          }));
        }, 50);
      });
    });
    await page.route('**/role', async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.continue();
    });
    await page.getByRole('button', { name: `Change role of ${RITA.name}` }).click();
    await page.waitForURL(/\/team$/);
    await page.unroute('**/role');
    const busy = JSON.parse(await page.evaluate(() => sessionStorage.getItem('busy')));
    assert.deepEqual(busy, { ariaBusy: 'true', text: 'Saving…', disabled: true },
      'while saving, the clicked button says so and cannot submit twice');
    await assertVisible(flash(page));
    assert.equal(await page.getByLabel(`Role of ${RITA.name}`).inputValue(), 'admin');
    await checks.page(page, 'Team page: role changed');
  });

  test('an Admin who opens the revoke page of an Owner invitation gets a 403 page that links back', async () => {
    const OWEN = 'owen@example.test';
    await page.getByRole('button', { name: 'Invite Team Member' }).click();
    await page.getByLabel('Email addresses').fill(OWEN);
    await page.getByRole('dialog').getByLabel('Role').selectOption('owner');
    await page.getByRole('dialog').getByRole('button', { name: 'Send Invitation' }).click();
    await page.waitForURL(/\/team$/);
    const href = await page.getByRole('link', { name: `Revoke invitation for ${OWEN}` }).getAttribute('href');
    const rita = await stranger();
    await logIn(rita, server.base, RITA.email, RITA.password);
    await openTeam(rita);
    assert.equal(await rita.getByRole('link', { name: `Revoke invitation for ${OWEN}` }).count(), 0,
      'the Admin is offered no Revoke for an Owner invitation');
    // The row's link is relative to the Team page, as the browser resolves it.
    const res = await rita.goto(new URL(href, page.url()).toString());
    assert.equal(res.status(), 403);
    await assertVisible(rita.getByRole('heading', { name: 'You cannot do that' }));
    await checks.page(rita, 'Error page: above your role (403)');
    await rita.getByRole('link', { name: 'Back to Team Management' }).click();
    await rita.waitForURL(/\/team$/);
    await rita.context().close();
  });

  test('"Remove" asks first, then removes', async () => {
    await page.getByRole('link', { name: `Remove ${RITA.name}` }).click();
    await page.waitForURL(/\/members\/[^/]+\/remove$/);
    await assertVisible(page.getByRole('heading', { name: 'Remove member?' }));
    await checks.page(page, 'Remove member: confirmation');
    await page.getByRole('button', { name: 'Remove member' }).click();
    await page.waitForURL(/\/team$/);
    await assertVisible(flash(page));
    assert.equal(await page.getByLabel(`Role of ${RITA.name}`).count(), 0);
    await checks.page(page, 'Team page: member removed');
  });

  test('the Billing page', async () => {
    await page.getByRole('link', { name: GRANITE, exact: true }).click();
    await page.waitForURL(DASHBOARD);
    await page.getByRole('link', { name: 'Billing' }).click();
    await page.waitForURL(/\/billing$/);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Billing');
    await checks.page(page, 'Billing');
  });

  test('the audit log, then filtered by action', async () => {
    await page.getByRole('link', { name: GRANITE, exact: true }).click();
    await page.waitForURL(DASHBOARD);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL(/\/audit$/);
    await assertVisible(page.getByRole('heading', { name: 'Audit log' }));
    await checks.page(page, 'Audit log');
    await page.getByLabel('Action').selectOption({ label: 'Role changed' });
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/\/audit\?/);
    await assertVisible(page.getByRole('link', { name: 'Show all' }));
    await assertVisible(page.locator('table.audit').getByText('Role changed'));
    await checks.page(page, 'Audit log: filtered by action');
    await page.context().close();
  });
});

describe('a person in two organizations', () => {
  let page;

  test('chooses an organization at /', async () => {
    page = await stranger();
    await logIn(page, server.base, PETE.email, PETE.password, /\/$/);
    await assertVisible(page.getByRole('heading', { name: 'Choose an organization' }));
    await checks.page(page, 'Choose an organization');
  });

  test('the header\'s "Switch organization" menu', async () => {
    await page.getByRole('link', { name: GRANITE }).click();
    await page.waitForURL(DASHBOARD);
    await page.getByText('Switch organization').click();
    const menu = page.locator('.site-header details.switcher');
    assert.equal(await menu.getAttribute('open'), '');
    await assertVisible(menu.getByRole('link', { name: PINE }));
    await checks.page(page, 'Dashboard: Switch organization menu open');
    await page.keyboard.press('Escape');
  });

  test('"Leave organization" asks first, then leaves', async () => {
    await page.getByRole('link', { name: 'Leave organization' }).click();
    await page.waitForURL(/\/leave$/);
    await assertVisible(page.getByRole('heading', { name: `Leave ${GRANITE}?` }));
    await checks.page(page, 'Leave organization: confirmation');
    await page.getByRole('button', { name: 'Leave organization' }).click();
    // One organization left: `/` goes straight to it.
    await page.waitForURL(DASHBOARD);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), PINE);
    await checks.page(page, 'Dashboard after leaving');
    await page.context().close();
  });
});

describe('platform staff', () => {
  let page;

  test('the staff console', async () => {
    page = await stranger();
    await logIn(page, server.base, STAFF.email, STAFF.password, /\/$/);
    await page.getByRole('link', { name: 'Staff console' }).click();
    await page.waitForURL(/\/staff$/);
    await assertVisible(page.getByRole('heading', { name: 'Staff console' }));
    await checks.page(page, 'Staff console');
  });

  test('searches organizations by name', async () => {
    await page.getByLabel('Search by name').fill('granite');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/\/staff\?q=granite/);
    await assertVisible(page.getByRole('link', { name: GRANITE }));
    assert.equal(await page.getByRole('link', { name: PINE }).count(), 0);
    await checks.page(page, 'Staff console: search');
  });

  test('sets a plan', async () => {
    await page.getByLabel(`Plan of ${GRANITE}`).selectOption('professional');
    await page.getByRole('button', { name: `Set plan of ${GRANITE}` }).click();
    await page.waitForURL(/\/staff/);
    await assertVisible(flash(page));
    assert.equal(await page.getByLabel(`Plan of ${GRANITE}`).inputValue(), 'professional');
    await checks.page(page, 'Staff console: plan set');
  });

  test('sends a tenant owner invitation', async () => {
    await page.getByLabel('Email').fill(TENANT.email);
    await page.getByLabel('Plan', { exact: true }).selectOption('starter');
    await page.getByLabel(/Personal message/).fill('Welcome to Joinery!');
    await page.getByRole('button', { name: 'Send tenant owner invitation' }).click();
    await page.waitForURL(/\/staff/);
    await assertVisible(flash(page));
    await assertVisible(page.getByRole('cell', { name: TENANT.email }));
    await checks.page(page, 'Staff console: tenant owner invitation sent');
  });

  test('the invitee names the company and lands on the new organization', async () => {
    const href = await invitationLink(page, TENANT.email);
    const invitee = await stranger();
    await invitee.goto(href);
    await assertVisible(invitee.getByRole('heading', { name: 'Set up your organization' }));
    await checks.page(invitee, 'Tenant-owner invitation: set up your organization');
    await invitee.getByLabel('Name', { exact: true }).fill(TENANT.name);
    await invitee.getByLabel('Password', { exact: true }).fill(TENANT.password);
    await invitee.getByLabel('Company name').fill(TENANT.company);
    await invitee.getByRole('button', { name: 'Create organization' }).click();
    await invitee.waitForURL(DASHBOARD);
    assert.equal(await invitee.getByRole('heading', { level: 1 }).textContent(), TENANT.company);
    await assertVisible(invitee.locator('.facts').getByText('Starter', { exact: true }));
    await checks.page(invitee, 'Tenant-owner invitation: new organization dashboard');
    await invitee.context().close();
  });

  test('a Team page seen as staff shows the staff banner', async () => {
    await page.getByRole('link', { name: 'Staff console' }).click();
    await page.waitForURL(/\/staff$/);
    await page.getByRole('link', { name: GRANITE }).click();
    await page.waitForURL(/\/team$/);
    await assertVisible(page.getByText('You are acting as platform staff'));
    await checks.page(page, 'Team page: acting as platform staff');
    await page.context().close();
  });
});
