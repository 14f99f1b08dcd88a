// Settings → API tokens, Settings → Webhooks and the API reference, in a browser with JavaScript
// off: an Owner makes a token, sees it once (and not again), a request with it answers, and
// revoking asks first; an Owner adds a webhook endpoint (on loopback: the server runs with
// JOINERY_WEBHOOKS_ALLOW_PRIVATE), sees its signing secret once, opens its delivery log and
// removes it after confirming. Every page and state goes through lib/checks.js (axe and HTML
// validity).
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
    env: { JOINERY_WEBHOOKS_ALLOW_PRIVATE: 'true' },
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

describe('webhooks', () => {
  test('an Owner adds an endpoint, sees its secret once, opens its log and removes it', async () => {
    const page = await newPage(await newContext(browser, { javaScriptEnabled: false }));
    await logIn(page, server.base, OWEN.email, OWEN.password);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL(/\/settings\/webhooks$/);
    await checks.page(page, 'Webhooks: none yet');
    await page.getByLabel('URL').fill('ftp://example');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.locator('#webhook-url-error').waitFor();
    await checks.page(page, 'Webhooks: bad URL');
    // Port 9 on loopback: nothing listens, so deliveries fail without leaving the machine.
    await page.getByLabel('URL').fill('http://127.0.0.1:9/joinery');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = await page.getByLabel('Signing secret').inputValue();
    assert.match(secret, /^whsec_/);
    await checks.page(page, 'Webhooks: added, secret shown once');
    await page.getByRole('link', { name: /Deliveries/ }).click();
    await page.getByRole('heading', { name: 'http://127.0.0.1:9/joinery' }).waitFor();
    await checks.page(page, 'Webhooks: delivery log');
    await page.getByRole('link', { name: 'Remove endpoint' }).click();
    await checks.page(page, 'Webhooks: remove confirmation');
    await page.getByRole('button', { name: 'Remove endpoint' }).click();
    await page.waitForURL(/\/settings\/webhooks$/);
    assert.match(await flash(page).textContent(), /was removed/);
  });
});
