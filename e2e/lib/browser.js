// Debian's headless Chromium driven by playwright-core. No browser is ever downloaded: the
// suite uses the system's /usr/bin/chromium (CHROMIUM_PATH overrides it).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const WIDE = { width: 1280, height: 800 };
export const NARROW = { width: 360, height: 740 };

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** What the checks need to know about a page: its last document response, console errors. */
const tracked = new WeakMap();
const scriptless = new WeakSet();

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

function track(page) {
  if (tracked.has(page)) return;
  const state = { lastDocument: null, consoleErrors: [] };
  tracked.set(page, state);
  page.on('response', (res) => {
    if (res.request().isNavigationRequest() && res.frame() === page.mainFrame()) {
      state.lastDocument = res;
    }
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // An error page's own status (404, 410, 422 …) is expected; anything else is not.
    const at = msg.location()?.url;
    if (at && at === page.url() && /status of \d{3}/.test(msg.text())) return;
    state.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => state.consoleErrors.push(`uncaught: ${err.message}`));
}

/**
 * A fresh browser profile (cookies and all) at 1280 px wide. `javaScriptEnabled: false`
 * gives the no-JavaScript flow. The real Content-Security-Policy stays in force.
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: WIDE, ...options });
  if (options.javaScriptEnabled === false) scriptless.add(context);
  context.on('page', track);
  context.setDefaultTimeout(10_000);
  return context;
}

/** A new page (tab) in `context`, tracked for the checks. */
export async function newPage(context) {
  const page = await context.newPage();
  track(page);
  return page;
}

export function pageState(page) {
  return tracked.get(page);
}

export function hasJavaScript(page) {
  return !scriptless.has(page.context());
}
