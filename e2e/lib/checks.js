// The checks every visited page and state goes through:
//   - html-validate on the HTML the server sent (saved under e2e/artifacts/html),
//   - axe-core in light and in dark mode: no serious or critical violation,
//   - no horizontal scrolling of the page at 360 px,
//   - every element that Tab reaches is on screen and has a visible focus outline,
//   - no console errors (a Content-Security-Policy violation shows up here).
// Results go to e2e/artifacts/results/<test file>.json; `node report.js` prints the table.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { HtmlValidate, StaticConfigLoader } from 'html-validate';
import htmlValidateConfig from '../.htmlvalidate.mjs';
import { NARROW, hasJavaScript, newContext, pageState } from './browser.js';

const require = createRequire(import.meta.url);
const AXE_SOURCE = await fs.readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
export const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'artifacts');
const validator = new HtmlValidate(new StaticConfigLoader(htmlValidateConfig));
const IMPACTS = ['critical', 'serious', 'moderate', 'minor'];

/** E2E_SOFT=1 records problems without failing, to see them all at once while fixing. */
const SOFT = process.env.E2E_SOFT === '1';

function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** Runs axe-core in `page` (JavaScript on) and sums the violations by impact. */
async function axe(page) {
  // Evaluated through the DevTools protocol rather than added as an inline <script>, so the
  // page's real Content-Security-Policy (script-src 'self') stays in force during the suite.
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(AXE_SOURCE);
  }
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    }),
  );
  const counts = Object.fromEntries(IMPACTS.map((i) => [i, 0]));
  const violations = result.violations.map((v) => {
    counts[v.impact] += 1;
    return {
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ')}`),
    };
  });
  return { counts, violations };
}

function securityHeaders(response) {
  const all = response?.headers() ?? {};
  const keep = ['content-security-policy', 'x-content-type-options', 'referrer-policy'];
  return Object.fromEntries(keep.filter((k) => all[k]).map((k) => [k, all[k]]));
}

/**
 * axe-core cannot run where JavaScript is off, so the same document is shown to a
 * JavaScript-enabled page without app.js — exactly what a no-JS visitor gets — with the real
 * stylesheet and the real Content-Security-Policy header.
 */
async function axeWithoutScripts(page, html) {
  const context = await newContext(page.context().browser());
  try {
    const audit = await context.newPage();
    const url = page.url();
    await audit.route('**/static/app.js', (route) => route.abort());
    await audit.route(url, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/html; charset=utf-8',
        headers: securityHeaders(pageState(page).lastDocument),
        body: html,
      }),
    );
    await audit.goto(url);
    const light = await axe(audit);
    await audit.emulateMedia({ colorScheme: 'dark' });
    const dark = await axe(audit);
    return { light, dark };
  } finally {
    await context.close();
  }
}

/** Every element Tab reaches (at most `limit`): on screen and with a visible outline. */
async function focusRing(page, limit = 40) {
  const problems = [];
  const seen = [];
  // Put focus back where it was afterwards, so the walk changes nothing for the test.
  await page.evaluate(() => { window.__focusBefore = document.activeElement; });
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const info = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const rect = el.getBoundingClientRect();
      const label = `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent || el.getAttribute('aria-label') || el.name || '').trim().replace(/\s+/g, ' ').slice(0, 40)}"`;
      return {
        key: label + rect.top + rect.left,
        label,
        outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
        shadow: style.boxShadow !== 'none',
        onScreen: rect.width > 0 && rect.height > 0 && rect.right > 0 && rect.bottom > 0 &&
          rect.left < window.innerWidth && rect.top < window.innerHeight,
        focusVisible: el.matches(':focus-visible'),
      };
    });
    if (!info) continue;
    if (seen.includes(info.key)) break;
    seen.push(info.key);
    if (!info.onScreen) problems.push(`${info.label} is focused off screen`);
    if (!(info.focusVisible && (info.outline || info.shadow))) problems.push(`${info.label} shows no focus outline`);
  }
  await page.evaluate(() => {
    const before = window.__focusBefore;
    if (before && before !== document.body) before.focus();
    else document.activeElement?.blur();
    delete window.__focusBefore;
  });
  return { reached: seen.length, problems };
}

/** Checks and results for one test file. */
export class Checks {
  constructor(testFile) {
    this.name = path.basename(testFile).replace(/\.test\.js$/, '');
    this.results = [];
  }

  /**
   * Runs every check on `page` as it is now, naming the state `name` (for example
   * "Team page: invite dialog open"). `keyboard: false` skips the Tab walk, which moves focus.
   */
  async page(page, name, { keyboard = true } = {}) {
    const state = pageState(page);
    const response = state.lastDocument;
    assert.ok(response, `${name}: no document response seen`);
    // A page restored from the back/forward cache brings no response: never check stale HTML.
    assert.equal(response.url().split('#')[0], page.url().split('#')[0], `${name}: the page has no fresh response`);
    const html = await response.text();
    const file = path.join(ARTIFACTS, 'html', `${this.name}--${slug(name)}.html`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, html);

    const report = await validator.validateString(html, file);
    const htmlErrors = report.results.flatMap((r) =>
      r.messages.filter((m) => m.severity === 2).map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`),
    );

    let axeResults;
    if (hasJavaScript(page)) {
      const light = await axe(page);
      await page.emulateMedia({ colorScheme: 'dark' });
      const dark = await axe(page);
      await page.emulateMedia({ colorScheme: 'light' });
      axeResults = { light, dark };
    } else {
      axeResults = await axeWithoutScripts(page, html);
    }

    const viewport = page.viewportSize();
    await page.setViewportSize(NARROW);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    // Name what sticks out, so a failure says where to look.
    const overflowing = scrollWidth <= NARROW.width ? [] : await page.evaluate((width) =>
      [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > width + 1 && !el.closest('.table-wrap, dialog:not([open])'))
        .slice(0, 8)
        .map((el) => `${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).replace(/ /g, '.') : ''} (right edge ${Math.round(el.getBoundingClientRect().right)})`),
    NARROW.width);
    await page.setViewportSize(viewport);

    const focus = keyboard ? await focusRing(page) : { reached: null, problems: [] };
    const consoleErrors = state.consoleErrors.splice(0);

    const result = {
      name,
      path: new URL(page.url()).pathname.replace(/^\/(invitations|signup|join)\/[^/]+/, '/$1/{token}'),
      status: response.status(),
      javaScript: hasJavaScript(page),
      axe: {
        light: axeResults.light.counts,
        dark: axeResults.dark.counts,
        violations: [...axeResults.light.violations.map((v) => ({ mode: 'light', ...v })),
          ...axeResults.dark.violations.map((v) => ({ mode: 'dark', ...v }))],
      },
      htmlErrors,
      scrollWidth360: scrollWidth,
      focus,
      consoleErrors,
    };
    this.results.push(result);
    await this.save();

    const failures = [];
    for (const mode of ['light', 'dark']) {
      for (const v of axeResults[mode].violations) {
        if (v.impact === 'serious' || v.impact === 'critical') {
          failures.push(`axe (${mode}) ${v.impact} ${v.id}: ${v.help}\n      ${v.nodes.join('\n      ')}`);
        }
      }
    }
    failures.push(...htmlErrors.map((e) => `html-validate ${e}`));
    if (scrollWidth > NARROW.width) failures.push(`page scrolls sideways at 360 px (scrollWidth ${scrollWidth}): ${overflowing.join(', ')}`);
    failures.push(...focus.problems.map((p) => `focus: ${p}`));
    failures.push(...consoleErrors.map((e) => `console: ${e}`));
    if (failures.length) {
      const message = `${name} (${result.path}):\n  ${failures.join('\n  ')}`;
      if (SOFT) console.log(`SOFT FAILURE ${message}`);
      else assert.fail(message);
    }
    return result;
  }

  async save() {
    const file = path.join(ARTIFACTS, 'results', `${this.name}.json`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, JSON.stringify(this.results, null, 2));
  }
}

/** Saves a PNG of `page` at 1280 px and at 360 px wide into docs/screenshots. */
export async function screenshots(page, name) {
  const dir = path.resolve(import.meta.dirname, '..', '..', 'docs', 'screenshots');
  await fs.mkdir(dir, { recursive: true });
  const viewport = page.viewportSize();
  for (const size of [{ width: 1280, height: 800 }, NARROW]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(dir, `${name}-${size.width}.png`), animations: 'disabled', caret: 'hide' });
  }
  await page.setViewportSize(viewport);
}
