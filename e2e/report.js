// Prints the per-page table of the last run from e2e/artifacts/results/*.json: axe-core
// violations by impact (light and dark), html-validate errors, and the page's width at 360 px.
// `run.sh` prints it before the test runner's summary; `node report.js --markdown` for notes.
import fs from 'node:fs';
import path from 'node:path';

const dir = path.join(import.meta.dirname, 'artifacts', 'results');
const markdown = process.argv.includes('--markdown');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
if (files.length === 0) {
  console.log('e2e report: no results (did the suite run?)');
  process.exit(0);
}

const impacts = (c) => `${c.critical}/${c.serious}/${c.moderate}/${c.minor}`;
const rows = [];
for (const file of files) {
  for (const r of JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))) {
    rows.push([
      r.name,
      `${r.status} ${r.path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}')}`,
      impacts(r.axe.light),
      impacts(r.axe.dark),
      String(r.htmlErrors.length),
      String(r.scrollWidth360),
    ]);
  }
}
const head = ['page / state', 'status, path', 'axe light c/s/m/m', 'axe dark c/s/m/m', 'html errors', 'width @360'];
if (markdown) {
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} else {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log('\nPages checked (axe: critical/serious/moderate/minor violations; html: html-validate errors)');
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
}
