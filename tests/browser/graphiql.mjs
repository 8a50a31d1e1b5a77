// Drives the router's GraphiQL in headless Chromium the way a developer would, for
// tests/e2e/test_graphiql_browser.py. Usage: node graphiql.mjs '<json arguments>'
//
//   {"url": "http://127.0.0.1:4000/graphql", "expectTitle": "…", "token": "…",
//    "orderSn": "…", "badToken": "…", "screenshots": "/tmp/dir", "userDataDir": "/tmp/dir"}
//
// Prints one JSON object per line on stdout as it goes ({"step": …}); the test reacts to
// them (it pays when it reads "subscribed"). Exits 1 with {"error": …} on a failure.
import { chromium } from 'playwright-core';

const args = JSON.parse(process.argv[2] ?? '{}');
const STEP_TIMEOUT_MS = args.stepTimeoutMs ?? 60_000;
const report = (step, details = {}) => console.log(JSON.stringify({ step, ...details }));

// Monaco renders editor lines as DOM text with non-breaking spaces; compare plain text.
const textOf = (page, selector) =>
  page.locator(selector).first().evaluate((el) => el.innerText.replace(/\s+/g, ' '));

async function waitForText(page, selector, predicate, what, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await textOf(page, selector).catch(() => '');
    if (predicate(text)) return text;
    await page.waitForTimeout(100);
  }
  throw new Error(`${what}: not shown within ${timeoutMs} ms; the page shows: ${text.slice(0, 500)}`);
}

// Replaces an editor's whole text as if pasted (typing would trigger auto-closed brackets).
// Forced: Monaco's own overlays (line margin, decorations) sit on top of the text layer.
async function setEditor(page, selector, text) {
  await page.locator(`${selector} .monaco-editor .view-lines`).filter({ visible: true }).first().click({ force: true });
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

const EXECUTE = '.graphiql-execute-button'; // labelled "Execute query …" or "Stop query …"

async function run(page) {
  await page.locator(`${EXECUTE}[aria-label^="Execute"]`).click();
}

async function stopIfRunning(page) {
  const stop = page.locator(`${EXECUTE}[aria-label^="Stop"]`);
  if (await stop.count()) await stop.click();
  await page.locator(`${EXECUTE}[aria-label^="Execute"]`).waitFor({ timeout: STEP_TIMEOUT_MS });
}

const RESPONSE = '.graphiql-response';
const QUERY_EDITOR = '.graphiql-query-editor';
const HEADERS_EDITOR = 'section.graphiql-editor-tool[aria-label="Headers"]';

const browser = await chromium.launchPersistentContext(args.userDataDir, {
  executablePath: args.executablePath ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1440, height: 900 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const page = browser.pages()[0] ?? (await browser.newPage());
const screenshot = (name) => page.screenshot({ path: `${args.screenshots}/${name}.png` });
let failed = false;
try {
  // Every request the page makes, to prove it loads nothing from elsewhere (no CDN).
  const origin = new URL(args.url).origin;
  const elsewhere = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:')) elsewhere.push(url);
  });

  const started = Date.now();
  const response = await page.goto(args.url, { waitUntil: 'commit' });
  const headers = await response.allHeaders();
  const body = await response.body();
  await waitForText(page, QUERY_EDITOR, (t) => t.includes('preferredHomestays'), 'the default query');
  report('rendered', {
    ms: Date.now() - started,
    title: await page.title(),
    contentEncoding: headers['content-encoding'] ?? null,
    transferBytes: Number(headers['content-length'] ?? 0) || null,
    pageBytes: body.length,
  });

  // The docs explorer shows the router's schema (introspected from the page).
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
  const docs = await waitForText(page, '.graphiql-plugin', (t) => t.includes('subscription:'), 'the docs explorer');
  await page.locator('.graphiql-plugin').getByText('Query', { exact: true }).first().click();
  await waitForText(page, '.graphiql-plugin', (t) => t.includes('preferredHomestays'), "the docs of Query's fields");
  report('docs', { rootTypes: docs.match(/(query|mutation|subscription): \w+/g) });

  const queried = Date.now();
  await run(page);
  await waitForText(page, RESPONSE, (t) => t.includes(args.expectTitle), 'the home page result');
  report('queried', { ms: Date.now() - queried });
  await screenshot('home-page');

  await page.getByRole('button', { name: 'Headers' }).click();
  await setEditor(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${args.token}` }));
  const subscription = `subscription { paymentStatus(orderSn: "${args.orderSn}") { sn orderSn payStatus payTotal } }`;
  await setEditor(page, QUERY_EDITOR, subscription);
  // GraphiQL re-reads the editor's operations after a debounce: a run right after the edit
  // may still name the previous operation ("Cannot infer operation HomePage"). That answer is
  // GraphiQL's own, never the router's; give it time to catch up, and run again if it had not.
  let first = '';
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    await page.waitForTimeout(500 * attempt);
    await run(page);
    first = await waitForText(
      page,
      RESPONSE,
      (t) => t.includes(args.orderSn) || (t.includes('"errors"') && !t.includes('Cannot infer operation')),
      'the first payment status',
      attempt < 5 ? 5_000 : STEP_TIMEOUT_MS,
    ).catch((error) => {
      if (attempt === 5) throw error;
      return '';
    });
    if (first) break;
    await stopIfRunning(page);
  }
  if (!first.includes(args.orderSn)) throw new Error(`the subscription failed: ${first}`);
  report('subscribed', { shows: first.match(/"payStatus": "\w+"/)?.[0] ?? null });

  await waitForText(page, RESPONSE, (t) => t.includes('"SUCCESS"'), 'SUCCESS');
  report('paid');
  await screenshot('payment-status');

  if (args.badToken) {
    await stopIfRunning(page);
    await setEditor(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${args.badToken}` }));
    await run(page);
    const refused = await waitForText(page, RESPONSE, (t) => t.includes('"errors"'), 'the refusal of a bad token');
    report('refused', { codes: [...refused.matchAll(/"code": "(\w+)"/g)].map((m) => m[1]) });
    await screenshot('bad-token');
  }
  report('done', { elsewhere });
} catch (error) {
  failed = true;
  console.log(JSON.stringify({ error: String(error?.stack ?? error) }));
  await screenshot('failure').catch(() => {});
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
