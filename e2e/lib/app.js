// Joinery as a person uses it: typing into labelled fields and clicking named buttons.
import assert from 'node:assert/strict';

/**
 * Opens the app, lands on the log-in page and logs in; ends on the dashboard (or wherever
 * `landing` matches: the chooser or the no-organization page at `/`).
 */
export async function logIn(page, base, email, password, landing = /\/orgs\/[0-9a-f-]+$/) {
  await page.goto(base);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL(landing);
}

/** Clicks "Log out" in the header. */
export async function logOut(page) {
  await page.locator('.site-header').getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(/\/login$/);
}

/** From the dashboard: the Team Management page. */
export async function openTeam(page) {
  await page.getByRole('link', { name: 'Team Management' }).click();
  await page.waitForURL(/\/team$/);
}

/**
 * Opens the development mailbox from the header and waits (reloading, as a person would) until
 * `count` emails to `email` have arrived: the outbox delivers in the background. Returns their
 * locator, newest first.
 */
export async function openMailbox(page, email, count = 1) {
  await page.getByRole('link', { name: 'Mailbox' }).click();
  await page.waitForURL(/\/dev\/mailbox$/);
  const mails = page.locator('article.mail').filter({ hasText: `To ${email}` });
  for (let i = 0; (await mails.count()) < count; i++) {
    if (i === 50) assert.fail(`fewer than ${count} emails to ${email} arrived in the mailbox`);
    await page.waitForTimeout(200);
    await page.reload();
  }
  return mails;
}

/** The newest invitation link sent to `email`, read from the mailbox; goes back afterwards. */
export async function invitationLink(page, email) {
  const back = page.url();
  const mails = await openMailbox(page, email);
  const href = await mails.first().locator('a[href*="/invitations/"]').first().getAttribute('href');
  assert.match(href, /\/invitations\/[A-Za-z0-9_-]{32}$/);
  await page.goto(back);
  return href;
}

/** The one flash message on the page (success, info or error). */
export function flash(page) {
  return page.locator('.flash');
}
