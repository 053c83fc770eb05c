// Browser end-to-end test of the web chat UI served by `muse serve`.
//
//   MUSE_URL=http://127.0.0.1:8080 node --test ui.test.mjs
//
// MUSE_URL: the running server (the tests skip without it). MUSE_ARTIFACTS: where the
// screenshots go (default ./e2e-artifacts). MUSE_E2E_TIMEOUT_MS: how long to wait for one
// answer (default 300000; the test model is tiny but the CPU is slow). MUSE_CHROMIUM: the
// browser (default /usr/bin/chromium, Debian's package).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.MUSE_URL ? process.env.MUSE_URL.replace(/\/+$/, '') : '';
const ARTIFACTS = path.resolve(process.env.MUSE_ARTIFACTS || './e2e-artifacts');
const WAIT = Number(process.env.MUSE_E2E_TIMEOUT_MS || 300_000);
const CHROMIUM = process.env.MUSE_CHROMIUM || '/usr/bin/chromium';
const SKIP = BASE ? false : 'MUSE_URL is not set (start `muse serve` and set MUSE_URL=http://127.0.0.1:PORT)';
const TEST_TIMEOUT = WAIT * 2 + 60_000;

let browser;

before(async () => {
  if (SKIP) return;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

// A fresh page (own storage) on the UI, once the model name is shown.
async function openUi(t) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') t.diagnostic('console: ' + m.text()); });
  t.after(() => context.close());
  const res = await page.goto(BASE + '/', { waitUntil: 'load' });
  assert.equal(res.status(), 200, 'GET / answers 200');
  await page.waitForSelector('#status-dot[data-state="ok"]', { timeout: 30_000 });
  return { page, problems };
}

async function setParams(page, { effort, agents, maxTokens }) {
  if (!(await page.isVisible('#settings'))) await page.click('#settings-toggle');
  await page.waitForSelector('#max-tokens', { state: 'visible' });
  if (effort) await page.selectOption('#effort', effort);
  if (agents !== undefined) await page.fill('#agents', String(agents));
  if (maxTokens !== undefined) await page.fill('#max-tokens', String(maxTokens));
}

// State of the newest assistant message: {count, state, finish, text, thinking, error}.
function lastAssistant(page) {
  return page.evaluate(() => {
    const all = document.querySelectorAll('.msg.assistant');
    const m = all[all.length - 1];
    if (!m) return { count: 0 };
    const text = (sel) => ((m.querySelector(sel) || {}).textContent || '').trim();
    return {
      count: all.length, state: m.dataset.state, finish: m.dataset.finish || '',
      text: text('.content'), thinking: text('.thinking-body'), error: text('.error-box'),
      lanes: m.querySelectorAll('.lane').length, usage: text('.meta'),
    };
  });
}

// Waits until the newest assistant message (the `n`th) is no longer streaming.
async function waitFinished(page, n, timeout = WAIT) {
  await page.waitForFunction((count) => {
    const all = document.querySelectorAll('.msg.assistant');
    return all.length >= count && all[count - 1].dataset.state !== 'streaming';
  }, n, { timeout, polling: 250 });
  return lastAssistant(page);
}

async function shoot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

// Screenshots the page when a test body fails, then rethrows.
async function withFailureShot(page, name, body) {
  try {
    await body();
  } catch (e) {
    await shoot(page, name.replace(/\.png$/, '-failure.png')).catch(() => {});
    throw e;
  }
}

test('chat: a message streams into a finished assistant reply', { skip: SKIP, timeout: TEST_TIMEOUT }, async (t) => {
  const { page, problems } = await openUi(t);
  await withFailureShot(page, 'ui-chat.png', async () => {
    const models = await (await fetch(BASE + '/v1/models')).json();
    assert.equal(await page.textContent('#model-name'), models.data[0].id, 'header shows the model');
    await setParams(page, { effort: 'default', maxTokens: 24 });

    // Shift+Enter is a newline, Enter sends.
    await page.click('#prompt');
    await page.keyboard.type('Hello muse!');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('Say something.');
    assert.equal(await page.inputValue('#prompt'), 'Hello muse!\nSay something.');
    assert.equal((await lastAssistant(page)).count, 0, 'Shift+Enter did not send');
    await page.keyboard.press('Enter');

    await page.waitForSelector('.msg.user .bubble', { timeout: 10_000 });
    await page.waitForSelector('.msg.assistant', { timeout: 10_000 });
    const m = await waitFinished(page, 1);
    assert.equal(m.error, '', 'no error shown');
    assert.equal(m.state, 'done');
    assert.ok(m.text.length > 0 || m.thinking.length > 0, 'the reply has text');
    assert.match(m.usage, /\d+ tokens/, 'token count shown under the message');
    assert.equal(await page.inputValue('#prompt'), '', 'the prompt was cleared');
    assert.ok(await page.isVisible('#send'), 'send is back');
    await shoot(page, 'ui-chat.png');
    assert.deepEqual(problems, []);
  });
});

test('contemplating: two agent lanes, a vote and a final answer', { skip: SKIP, timeout: TEST_TIMEOUT }, async (t) => {
  const { page, problems } = await openUi(t);
  await withFailureShot(page, 'ui-contemplate.png', async () => {
    await setParams(page, { effort: 'contemplating', agents: 2, maxTokens: 24 });
    await page.fill('#prompt', 'What is 17 * 23?');
    await page.click('#send');

    const msg = page.locator('.msg.assistant').last();
    await msg.locator('.lane[data-agent="1"]').waitFor({ timeout: WAIT });
    const m = await waitFinished(page, 1);
    assert.equal(m.error, '', 'no error shown');
    assert.equal(m.state, 'done');
    assert.equal(m.lanes, 2, 'one lane per agent');
    const statuses = await msg.locator('.lane').evaluateAll((ls) => ls.map((l) => l.dataset.status));
    for (const s of statuses) assert.ok(['finished', 'stopped'].includes(s), 'lane ended: ' + s);
    const final = msg.locator('.final-answer');
    await final.waitFor({ state: 'visible', timeout: 10_000 });
    assert.ok((await final.textContent()).trim().length > 0, 'final answer shown');
    assert.equal(await page.locator('#final-answer').count(), 1, '#final-answer names the newest one');
    await shoot(page, 'ui-contemplate.png');
    assert.deepEqual(problems, []);
  });
});

test('stop: the stop button ends a streaming reply and keeps its text', { skip: SKIP, timeout: TEST_TIMEOUT * 2 }, async (t) => {
  const { page, problems } = await openUi(t);
  await withFailureShot(page, 'ui-stop.png', async () => {
    await setParams(page, { effort: 'default', maxTokens: 1000 });
    let stopped = null;
    let n = 0;
    // A reply may finish before the click lands (a model can end early): try again then.
    for (let attempt = 1; attempt <= 3 && !stopped; attempt++) {
      await page.fill('#prompt', 'Tell me a very long story about a lighthouse keeper.');
      await page.press('#prompt', 'Enter');
      n++;
      await page.waitForFunction((count) => {
        const all = document.querySelectorAll('.msg.assistant');
        const m = all[count - 1];
        if (!m) return false;
        const text = (m.querySelector('.content').textContent + ((m.querySelector('.thinking-body') || {}).textContent || '')).trim();
        return m.dataset.state !== 'streaming' || text.length > 0;
      }, n, { timeout: WAIT, polling: 100 });
      let clicked = false;
      try {
        await page.click('#stop', { timeout: 3_000 });
        clicked = true;
      } catch (e) { /* the reply ended first */ }
      const m = await waitFinished(page, n, 30_000);
      assert.equal(m.error, '', 'no error shown');
      if (clicked && m.finish === 'stopped') stopped = m;
      else t.diagnostic(`attempt ${attempt}: the reply finished (${m.finish}) before stop`);
    }
    assert.ok(stopped, 'a streaming reply was stopped');
    assert.ok(['done', 'stopped'].includes(stopped.state), 'state after stop: ' + stopped.state);
    assert.ok(stopped.text.length > 0 || stopped.thinking.length > 0, 'the partial answer stays');
    assert.ok(await page.isVisible('#send'), 'send is back');
    assert.ok(!(await page.isVisible('#stop')), 'stop is hidden');
    await shoot(page, 'ui-stop.png');

    // The server dropped the cancelled request: a short follow-up is answered.
    await setParams(page, { maxTokens: 8 });
    await page.fill('#prompt', 'And now a short one.');
    await page.press('#prompt', 'Enter');
    const next = await waitFinished(page, n + 1);
    assert.equal(next.error, '', 'no error after stop');
    assert.equal(next.state, 'done');
    assert.deepEqual(problems, []);
  });
});
