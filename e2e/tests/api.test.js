// Settings → API tokens and the API reference, in a browser with JavaScript off: an Owner makes a
// token, sees it once (and not again), a request with it answers, and revoking asks first. Every
// page and state goes through lib/checks.js (axe and HTML validity).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, newPage } from '../lib/browser.js';
import { startServer } from '../lib/server.js';
import { Checks } from '../lib/checks.js';
import { flash, logIn } from '../lib/app.js';

const OWEN = { email: 'owen@oak.test', name: 'Owen Oak', password: 'owen-password-12' };

const checks = new Checks(import.meta.filename);
let server;
let browser;

before(async () => {
  server = await startServer({
    orgs: [{ name: 'Oak Tree', plan: 'starter', ownerEmail: OWEN.email, ownerName: OWEN.name, password: OWEN.password }],
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('API tokens', () => {
  test('an Owner makes a token, sees it once, uses it, and revokes it after confirming', async () => {
    const page = await newPage(await newContext(browser, { javaScriptEnabled: false }));
    await logIn(page, server.base, OWEN.email, OWEN.password);
    const orgPath = new URL(page.url()).pathname;
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.waitForURL(/\/settings\/api$/);
    await checks.page(page, 'API tokens: none yet');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#token-name-error').waitFor();
    await checks.page(page, 'API tokens: name missing');
    await page.getByLabel('Name').fill('CRM sync');
    await page.getByLabel('Acts as').selectOption({ label: 'Admin — Everything except billing' });
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByLabel('Token', { exact: true }).inputValue();
    assert.match(secret, /^jnr_[A-Za-z0-9_-]{32}$/);
    await checks.page(page, 'API tokens: created, shown once');
    const answer = await fetch(`${server.base}/api/v1${orgPath}`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(answer.status, 200);
    assert.equal((await answer.json()).name, 'Oak Tree');
    await page.goto(`${server.base}${orgPath}/settings/api`);
    assert.equal(await page.getByLabel('Token', { exact: true }).count(), 0, 'not shown again');
    const row = page.getByRole('row', { name: /CRM sync/ });
    await row.getByRole('link', { name: /Revoke/ }).click();
    await page.getByRole('heading', { name: 'Revoke API token “CRM sync”?' }).waitFor();
    await checks.page(page, 'API tokens: revoke confirmation');
    await page.getByRole('button', { name: 'Revoke token' }).click();
    await page.waitForURL(/\/settings\/api$/);
    assert.match(await flash(page).textContent(), /was revoked; it no longer works/);
    await checks.page(page, 'API tokens: revoked');
    const refused = await fetch(`${server.base}/api/v1${orgPath}`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('content-type'), 'application/problem+json');
  });

  test('the API reference lists the operations', async () => {
    const page = await newPage(await newContext(browser, { javaScriptEnabled: false }));
    await page.goto(`${server.base}/api/v1/docs`);
    await page.getByRole('heading', { name: 'POST /api/v1/orgs/{org}/invitations', exact: true }).waitFor();
    await checks.page(page, 'API reference');
  });
});
