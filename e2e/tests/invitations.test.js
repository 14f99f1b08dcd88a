// The invitation flow with JavaScript on: log in, the invite dialog (keyboard included), send,
// read the link from the delivered email, the four acceptance branches, revoke, resend, and
// the pages around them. Every page and state the flow visits goes through lib/checks.js.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, newPage } from '../lib/browser.js';
import { startServer } from '../lib/server.js';
import { Checks, screenshots } from '../lib/checks.js';
import { flash, invitationLink, logIn, logOut, openMailbox, openTeam } from '../lib/app.js';

const ORG = 'Acme Tools';
const OWNER = { email: 'olive@acme.test', name: 'Olive Owner', password: 'olive-password-1' };
// People who already have an account (owners of their own organizations).
const BOB = { email: 'bob@birch.test', name: 'Bob Birch', password: 'bob-password-12' };
const CAROL = { email: 'carol@cedar.test', name: 'Carol Cedar', password: 'carol-password-1' };
const DAVE = { email: 'dave@dune.test', name: 'Dave Dune', password: 'dave-password-12' };
const TINA = { email: 'tina@trial.test', name: 'Tina Trial', password: 'tina-password-12' };
const NEWBIE = { email: 'nina.new@example.test', name: 'Nina New', password: 'nina-password-1' };

const checks = new Checks(import.meta.filename);
let server;
let browser;
let owner; // the owner's page, signed in for the whole file

function org(name, plan, person) {
  return { name, plan, ownerEmail: person.email, ownerName: person.name, password: person.password };
}

before(async () => {
  server = await startServer({
    orgs: [
      org(ORG, 'starter', OWNER),
      org('Birch Labs', 'starter', BOB),
      org('Cedar Co', 'professional', CAROL),
      org('Dune Works', 'starter', DAVE),
      org('Tiny Trial', 'trial', TINA),
    ],
  });
  browser = await launch();
  owner = await newPage(await newContext(browser));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A signed-out visitor in a fresh browser profile. */
async function stranger() {
  return newPage(await newContext(browser));
}

describe('owner', () => {
  test('logs in, with a wrong password first', async () => {
    await owner.goto(server.base);
    await owner.waitForURL(/\/login$/);
    await checks.page(owner, 'Log in');
    await owner.getByLabel('Email').fill(OWNER.email);
    await owner.getByLabel('Password').fill('not-the-password');
    await owner.getByRole('button', { name: 'Log in', exact: true }).click();
    await assertVisible(owner.getByRole('alert').filter({ hasText: 'do not match an account' }));
    await checks.page(owner, 'Log in: wrong password');
    assert.equal(await owner.getByLabel('Email').inputValue(), OWNER.email, 'the email is kept');
    await owner.getByLabel('Password').fill(OWNER.password);
    await owner.getByRole('button', { name: 'Log in', exact: true }).click();
    await owner.waitForURL(/\/orgs\/[0-9a-f-]+$/);
    assert.equal(await owner.getByRole('heading', { level: 1 }).textContent(), ORG);
    assert.match(await owner.title(), new RegExp(`Dashboard · ${ORG}`));
    await checks.page(owner, 'Dashboard');
  });

  test('opens Team Management', async () => {
    await openTeam(owner);
    assert.match(await owner.title(), new RegExp(`Team · ${ORG}`));
    await assertVisible(owner.getByText('No pending invitations.'));
    await checks.page(owner, 'Team page: no invitations yet');
  });
});

async function assertVisible(locator) {
  await locator.first().waitFor({ state: 'visible' });
}

describe('the invite dialog', () => {
  const dialog = () => owner.getByRole('dialog', { name: 'Invite Team Member' });
  // With JavaScript the link becomes a button that opens a dialog.
  const opener = () => owner.getByRole('button', { name: 'Invite Team Member' });

  test('opens from "Invite Team Member" with focus on the first field', async () => {
    await opener().click();
    await assertVisible(dialog());
    assert.equal(owner.url().endsWith('/team'), true, 'the dialog opens in place');
    assert.equal(await owner.evaluate(() => document.activeElement.id), 'invite-emails');
    await checks.page(owner, 'Team page: invite dialog open');
  });

  test('traps focus: Tab and Shift+Tab stay inside the dialog', async () => {
    await owner.getByLabel('Email addresses').focus();
    const inside = () => owner.evaluate(() => !!document.activeElement.closest('dialog'));
    const seen = new Set();
    for (let i = 0; i < 12; i++) {
      await owner.keyboard.press('Tab');
      assert.equal(await inside(), true, `Tab ${i + 1} left the dialog`);
      seen.add(await owner.evaluate(() => document.activeElement.outerHTML.slice(0, 60)));
    }
    for (let i = 0; i < 12; i++) {
      await owner.keyboard.press('Shift+Tab');
      assert.equal(await inside(), true, `Shift+Tab ${i + 1} left the dialog`);
    }
    assert.ok(seen.size >= 4, `Tab visits every control (saw ${seen.size})`);
  });

  test('Escape closes it and focus returns to "Invite Team Member"', async () => {
    await owner.keyboard.press('Escape');
    await dialog().waitFor({ state: 'hidden' });
    assert.equal(await owner.evaluate(() => document.activeElement.textContent.trim()), 'Invite Team Member');
  });

  test('opens with Enter or Space; Close and the backdrop return focus too', async () => {
    assert.equal(await opener().getAttribute('aria-haspopup'), 'dialog');
    await opener().focus();
    await owner.keyboard.press('Enter');
    await assertVisible(dialog());
    await dialog().getByRole('button', { name: 'Close' }).click();
    await dialog().waitFor({ state: 'hidden' });
    assert.equal(await owner.evaluate(() => document.activeElement.textContent.trim()), 'Invite Team Member');
    await owner.keyboard.press('Space');
    await assertVisible(dialog());
    await owner.mouse.click(5, 400);
    await dialog().waitFor({ state: 'hidden' });
    assert.equal(await owner.evaluate(() => document.activeElement.textContent.trim()), 'Invite Team Member');
  });

  test('screenshots of the Team page and the open dialog', async () => {
    await opener().click();
    await assertVisible(dialog());
    await owner.getByLabel('Email addresses').fill('nina.new@example.test\nbob@birch.test');
    await owner.getByLabel('Role').selectOption('editor');
    await owner.getByLabel(/Personal message/).fill('Welcome aboard — see you Monday!');
    await screenshots(owner, 'invite-dialog');
    await owner.keyboard.press('Escape');
  });

  test('an empty submission is refused with the message beside the field', async () => {
    await opener().click();
    await owner.getByLabel('Email addresses').fill('');
    await dialog().getByRole('button', { name: 'Send Invitation' }).click();
    await owner.waitForURL(/\/invitations$/);
    await assertVisible(owner.getByText('Enter at least one email address.'));
    assert.equal(await owner.getByLabel('Email addresses').getAttribute('aria-invalid'), 'true');
    await checks.page(owner, 'Invite form: error beside the field');
    await owner.getByRole('link', { name: 'Back to Team Management' }).click();
    await owner.waitForURL(/\/team$/);
  });

  test('sends invitations; the button says it is working; the result stays until dismissed', async () => {
    await opener().click();
    await owner.getByLabel('Email addresses').fill(
      [NEWBIE.email, BOB.email, CAROL.email, DAVE.email].join('\n') + ',\n not-an-address',
    );
    await owner.getByLabel('Role').selectOption('editor');
    await owner.getByLabel(/Personal message/).fill('Welcome aboard — see you Monday!');
    // Note how the button looks just after the click, while the request is on its way (held
    // for half a second); Playwright cannot look at a page whose navigation is pending, so the
    // page writes it down in sessionStorage, which survives the navigation.
    await owner.evaluate(() => {
      document.addEventListener('submit', (event) => {
        setTimeout(() => {
          const b = event.submitter;
          sessionStorage.setItem('busy', JSON.stringify({
            ariaBusy: b.getAttribute('aria-busy'), text: b.textContent.trim(), disabled: b.disabled,
          }));
        }, 50);
      });
    });
    await owner.route('**/invitations', async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.continue();
    });
    await dialog().getByRole('button', { name: 'Send Invitation' }).click();
    await owner.waitForURL(/\/team$/);
    await owner.unroute('**/invitations');
    const busy = JSON.parse(await owner.evaluate(() => sessionStorage.getItem('busy')));
    assert.deepEqual(busy, { ariaBusy: 'true', text: 'Sending…', disabled: true },
      'while sending, the button says so and cannot send twice');

    const message = flash(owner);
    await assertVisible(message);
    assert.match(await message.textContent(), /4 invitations sent, 0 resent, 0 skipped, 1 invalid: not-an-address \(invalid address/);
    const result = owner.locator('section', { has: owner.getByRole('heading', { name: 'Result of your invitations' }) });
    assert.equal(await result.getByRole('row').count(), 1 + 5, 'one row per address typed, under a header row');
    await assertVisible(result.getByRole('row').filter({ hasText: 'not-an-address' }).filter({ hasText: 'Invalid address' }));
    await checks.page(owner, 'Team page: invitations sent');
    await owner.waitForTimeout(1500);
    assert.equal(await message.isVisible(), true, 'the message stays until dismissed');
    await message.getByRole('button', { name: 'Dismiss message' }).click();
    assert.equal(await message.count(), 0);

    const pending = owner.locator('section', { has: owner.getByRole('heading', { name: /Pending invitations/ }) });
    for (const email of [NEWBIE.email, BOB.email, CAROL.email, DAVE.email]) {
      const row = pending.getByRole('row').filter({ hasText: email });
      await assertVisible(row);
      const expires = row.locator('time').nth(1);
      assert.match(await expires.getAttribute('datetime'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal((await expires.textContent()).trim(), 'in 7 days');
    }
  });

  test('screenshots of the Team page', async () => {
    await screenshots(owner, 'team');
  });
});

describe('the acceptance page', () => {
  const links = {};

  test('the invitation email carries the link', async () => {
    for (const person of [NEWBIE, BOB, CAROL, DAVE]) {
      links[person.email] = await invitationLink(owner, person.email);
    }
    await owner.getByRole('link', { name: 'Mailbox' }).click();
    const sent = owner.locator('article.mail time').first();
    assert.match(await sent.getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
    assert.equal((await sent.textContent()).trim(), 'just now');
    await checks.page(owner, 'Development mailbox');
    await owner.goBack();
  });

  test('signed in as another account: the email does not match, and Log out comes back', async () => {
    await owner.goto(links[NEWBIE.email]);
    await assertVisible(owner.getByRole('heading', { name: 'Invitation email does not match your account' }));
    await checks.page(owner, 'Acceptance: signed in as another account');
    await owner.getByRole('main').getByRole('button', { name: 'Log out' }).click();
    await owner.waitForURL(links[NEWBIE.email]);
    assert.match(await flash(owner).textContent(), /You are logged out/);
    await assertVisible(owner.getByRole('button', { name: 'Create account & join' }));
    // Back in as the owner for the rest of the file.
    await logIn(owner, server.base, OWNER.email, OWNER.password);
  });

  test('new user: Create account & join, in a fresh browser profile', async () => {
    const page = await stranger();
    await page.goto(links[NEWBIE.email]);
    assert.match(await page.title(), /Invitation to Acme Tools/);
    await assertVisible(page.getByText(`Olive Owner invited ${NEWBIE.email} to join Acme Tools as Editor`));
    const email = page.getByLabel('Email');
    assert.equal(await email.inputValue(), NEWBIE.email);
    assert.equal(await email.getAttribute('readonly'), '', 'the email is locked');
    const expires = page.locator('time');
    assert.equal((await expires.textContent()).trim(), 'in 7 days');
    await checks.page(page, 'Acceptance: new user');
    await screenshots(page, 'accept');

    // The browser itself refuses a password shorter than the minimum …
    await page.getByLabel('Name').fill(NEWBIE.name);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account & join' }).click();
    assert.equal(await page.getByLabel('Password').evaluate((el) => el.matches(':invalid')), true);
    assert.equal(page.url(), links[NEWBIE.email], 'nothing was sent');
    // … and the server a name of blanks, keeping what was typed, message beside the field.
    await page.getByLabel('Name').fill('   ');
    await page.getByLabel('Password').fill(NEWBIE.password);
    await page.getByRole('button', { name: 'Create account & join' }).click();
    await assertVisible(page.locator('#name-error'));
    assert.equal(await page.getByLabel('Name').getAttribute('aria-invalid'), 'true');
    await checks.page(page, 'Acceptance: new user, error beside the field');
    await page.getByLabel('Name').fill(NEWBIE.name);
    await page.getByLabel('Password', { exact: true }).fill(NEWBIE.password);
    await page.getByRole('button', { name: 'Create account & join' }).click();
    await page.waitForURL(/\/orgs\/[0-9a-f-]+$/);
    assert.match(await flash(page).textContent(), /You joined Acme Tools as Editor/);
    await checks.page(page, 'Dashboard: joined as a new user');
    await page.context().close();
  });

  test('existing user, signed out: Log in & accept', async () => {
    const page = await stranger();
    await page.goto(links[BOB.email]);
    await assertVisible(page.getByRole('heading', { name: `Log in as ${BOB.email} to accept` }));
    await checks.page(page, 'Acceptance: existing user, signed out');
    await page.getByLabel('Password').fill('wrong-password-1');
    await page.getByRole('button', { name: 'Log in & accept' }).click();
    await assertVisible(page.getByRole('alert').filter({ hasText: 'do not match an account' }));
    await checks.page(page, 'Acceptance: existing user, wrong password');
    await page.getByLabel('Password').fill(BOB.password);
    await page.getByRole('button', { name: 'Log in & accept' }).click();
    await page.waitForURL(/\/orgs\/[0-9a-f-]+$/);
    assert.match(await flash(page).textContent(), /You joined Acme Tools as Editor/);
    await page.context().close();
  });

  test('signed in as the invitee: Accept invitation', async () => {
    const page = await stranger();
    await logIn(page, server.base, CAROL.email, CAROL.password);
    await page.goto(links[CAROL.email]);
    await assertVisible(page.getByRole('button', { name: 'Accept invitation' }));
    await assertVisible(page.getByText('Decline', { exact: true }));
    await checks.page(page, 'Acceptance: signed in as the invitee');
    await page.getByRole('button', { name: 'Accept invitation' }).click();
    await page.waitForURL(/\/orgs\/[0-9a-f-]+$/);
    assert.match(await flash(page).textContent(), /You joined Acme Tools as Editor/);
    await checks.page(page, 'Dashboard: joined as an existing user');
    // Carol now belongs to two organizations; the header lets her move between them.
    await page.context().close();
  });

  test('signed in as the invitee: Decline, after confirming', async () => {
    const page = await stranger();
    await logIn(page, server.base, DAVE.email, DAVE.password);
    await page.goto(links[DAVE.email]);
    await page.getByText('Decline', { exact: true }).click();
    await assertVisible(page.getByRole('button', { name: 'Decline invitation' }));
    await checks.page(page, 'Acceptance: confirm declining');
    await page.getByRole('button', { name: 'Decline invitation' }).click();
    await assertVisible(page.getByRole('heading', { name: 'Invitation declined' }));
    await checks.page(page, 'Acceptance: declined');
    await page.goto(links[DAVE.email]);
    await assertVisible(page.getByRole('heading', { name: 'This invitation was declined' }));
    await checks.page(page, 'Acceptance: link already declined');
    await page.context().close();
  });

  test('a used link says so', async () => {
    const page = await stranger();
    await page.goto(links[NEWBIE.email]);
    await assertVisible(page.getByRole('heading', { name: 'This invitation has already been used' }));
    await checks.page(page, 'Acceptance: link already used');
    await page.context().close();
  });

  test('a link that never existed is a styled 404', async () => {
    const page = await stranger();
    const res = await page.goto(`${server.base}/invitations/${'x'.repeat(32)}`);
    assert.equal(res.status(), 404);
    await assertVisible(page.getByRole('heading', { name: 'Page not found' }));
    await checks.page(page, 'Error page: not found');
    await page.context().close();
  });

  test('the Team page shows who joined and the history', async () => {
    await openTeam(owner);
    const members = owner.locator('section', { has: owner.getByRole('heading', { name: /^Members/ }) });
    for (const name of [NEWBIE.name, BOB.name, CAROL.name]) {
      await assertVisible(members.getByRole('row').filter({ hasText: name }));
    }
    const history = owner.locator('section', { has: owner.getByRole('heading', { name: /Invitation history/ }) });
    await assertVisible(history.getByRole('row').filter({ hasText: DAVE.email }).filter({ hasText: 'Declined' }));
    await checks.page(owner, 'Team page: members joined');
  });
});

describe('revoke and resend', () => {
  const ERIN = 'erin@example.test';
  const FRANK = 'frank@example.test';
  let erinLink;

  test('invite two more people', async () => {
    await owner.getByRole('button', { name: 'Invite Team Member' }).click();
    await owner.getByLabel('Email addresses').fill(`${ERIN}, ${FRANK}`);
    await owner.getByRole('dialog').getByRole('button', { name: 'Send Invitation' }).click();
    await owner.waitForURL(/\/team$/);
    assert.match(await flash(owner).textContent(), /2 invitations sent/);
    erinLink = await invitationLink(owner, ERIN);
  });

  const row = (email) => owner.locator('section', { has: owner.getByRole('heading', { name: /Pending invitations/ }) })
    .getByRole('row').filter({ hasText: email });

  test('Revoke asks first; Cancel keeps the invitation', async () => {
    await row(ERIN).getByRole('link', { name: `Revoke invitation for ${ERIN}` }).click();
    await assertVisible(owner.getByRole('heading', { name: 'Revoke invitation?' }));
    assert.match(await owner.title(), /Revoke invitation · Acme Tools/);
    await checks.page(owner, 'Revoke: confirmation');
    await owner.getByRole('link', { name: 'Cancel' }).click();
    await owner.waitForURL(/\/team$/);
    await assertVisible(row(ERIN));
  });

  test('Revoke, confirmed: the link stops working at once', async () => {
    await row(ERIN).getByRole('link', { name: `Revoke invitation for ${ERIN}` }).click();
    await owner.getByRole('button', { name: 'Revoke invitation' }).click();
    await owner.waitForURL(/\/team$/);
    assert.match(await flash(owner).textContent(), new RegExp(`The invitation to ${ERIN} was revoked`));
    assert.equal(await row(ERIN).count(), 0);
    await checks.page(owner, 'Team page: invitation revoked');
    const page = await stranger();
    const res = await page.goto(erinLink);
    assert.equal(res.status(), 410);
    await assertVisible(page.getByRole('heading', { name: 'This invitation has been revoked' }));
    await checks.page(page, 'Acceptance: link revoked');
    await page.context().close();
  });

  test('Resend sends the same link again, then waits a minute', async () => {
    const before = await invitationLink(owner, FRANK);
    await row(FRANK).getByRole('button', { name: 'Resend' }).click();
    await owner.waitForURL(/\/team$/);
    assert.match(await flash(owner).textContent(), new RegExp(`Invitation sent again to ${FRANK} with the same link`));
    const button = row(FRANK).getByRole('button', { name: /Resend/ });
    assert.equal(await button.isDisabled(), true);
    assert.match(await button.textContent(), /in .*\d+ s/);
    await checks.page(owner, 'Team page: invitation resent');
    const mails = await openMailbox(owner, FRANK, 2);
    assert.equal(await mails.count(), 2);
    assert.equal(await mails.nth(0).locator('a[href*="/invitations/"]').getAttribute('href'), before);
    await owner.goBack();
  });
});

describe('refusals in a second tab', () => {
  const GINA = 'gina@example.test';
  let second; // another tab of the owner's browser, opened before the first one acts

  const rowIn = (page, email) => page.locator('section', { has: page.getByRole('heading', { name: /Pending invitations/ }) })
    .getByRole('row').filter({ hasText: email });

  test('a resend within the minute, from a tab opened before the first: a 429 page with the wait', async () => {
    await owner.getByRole('button', { name: 'Invite Team Member' }).click();
    await owner.getByLabel('Email addresses').fill(GINA);
    await owner.getByRole('dialog').getByRole('button', { name: 'Send Invitation' }).click();
    await owner.waitForURL(/\/team$/);
    second = await owner.context().newPage();
    await second.goto(owner.url());
    await rowIn(owner, GINA).getByRole('button', { name: 'Resend' }).click();
    await owner.waitForURL(/\/team$/);
    assert.match(await flash(owner).textContent(), new RegExp(`Invitation sent again to ${GINA}`));
    const [res] = await Promise.all([
      second.waitForResponse((r) => r.request().method() === 'POST'),
      rowIn(second, GINA).getByRole('button', { name: 'Resend' }).click(),
    ]);
    assert.equal(res.status(), 429);
    assert.match(res.headers()['retry-after'] ?? '', /^\d+$/);
    await assertVisible(second.getByRole('heading', { name: 'Too many attempts' }));
    await assertVisible(second.getByText('less than a minute ago'));
    await checks.page(second, 'Error page: resend too soon (429)');
    await second.getByRole('link', { name: 'Back to Team Management' }).click();
    await second.waitForURL(/\/team$/);
  });

  test('revoking from a stale confirmation page after it was revoked: a 409 page', async () => {
    await rowIn(second, GINA).getByRole('link', { name: `Revoke invitation for ${GINA}` }).click();
    await assertVisible(second.getByRole('heading', { name: 'Revoke invitation?' }));
    await rowIn(owner, GINA).getByRole('link', { name: `Revoke invitation for ${GINA}` }).click();
    await owner.getByRole('button', { name: 'Revoke invitation' }).click();
    await owner.waitForURL(/\/team$/);
    const [res] = await Promise.all([
      second.waitForResponse((r) => r.request().method() === 'POST'),
      second.getByRole('button', { name: 'Revoke invitation' }).click(),
    ]);
    assert.equal(res.status(), 409);
    await assertVisible(second.getByText('already Revoked'));
    await checks.page(second, 'Error page: already revoked (409)');
    await second.close();
  });
});

describe('other pages', () => {
  test('Notification settings save with a message', async () => {
    await owner.getByRole('link', { name: ORG }).click();
    await owner.getByRole('link', { name: 'Notification settings' }).click();
    await owner.waitForURL(/\/settings\/notifications$/);
    assert.match(await owner.title(), /Notifications · Acme Tools/);
    await checks.page(owner, 'Notification settings');
    await owner.getByLabel('Notify me when team members join').uncheck();
    // Owners also see "Save reminders" (the organization's invitation reminders).
    await owner.getByRole('button', { name: 'Save', exact: true }).click();
    assert.match(await flash(owner).textContent(), /you will not get an email/);
    await checks.page(owner, 'Notification settings: saved');
  });

  test('a Trial organization is told invitations need a paid plan', async () => {
    const page = await stranger();
    await logIn(page, server.base, TINA.email, TINA.password);
    await openTeam(page);
    await assertVisible(page.getByText('Team invitations are available on paid plans'));
    assert.equal(await page.getByText('Invite Team Member').count(), 0);
    await checks.page(page, 'Team page: Trial plan');
    await logOut(page);
    assert.match(await flash(page).textContent(), /You are logged out/);
    await checks.page(page, 'Log in: logged out');
    await page.context().close();
  });
});
