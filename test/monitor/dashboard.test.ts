// The monitoring port's `/` in a real browser: headless Chromium (the Debian package, installed by
// .ci/run) driven by playwright-core loads the dashboard, which must follow the server live (the
// connection count changes when a client connects, the busiest-connections table and JetStream
// table fill, the message-rate chart moves) and make no request outside the server. Both HTTP
// engines: uWS (where it loads) and node:http (native-free). A screenshot of each is kept under
// test-artifacts/ (gitignored).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { startServer } from 'tsnats';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const repoRoot = new URL('../../../', import.meta.url).pathname;
const artifacts = join(repoRoot, 'test-artifacts');
const skip = existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;

async function launch(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
}

/** Waits until the page's text at `selector` satisfies `ok` (the page polls once a second). */
async function waitText(page: Page, selector: string, ok: (t: string) => boolean, what: string, ms = 20_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = (await page.textContent(selector)) ?? '';
    if (ok(last)) return last;
    await page.waitForTimeout(100);
  }
  assert.fail(`${what}: "${selector}" still reads ${JSON.stringify(last)} after ${ms} ms`);
}

for (const nativeFree of [false, true]) {
  const engine = nativeFree ? 'node:http (native-free)' : 'uWS where it loads';
  describe(`dashboard at the monitoring port's / (${engine})`, { timeout: 180_000, skip }, () => {
    test('live view in headless Chromium; no request leaves the server; screenshot kept', async () => {
      const server = await startServer({ httpPort: 0, jetstream: true, nativeFree, shards: 2 });
      const userDataDir = mkdtempSync(join(tmpdir(), 'tsnats-chromium-'));
      let context: BrowserContext | null = null;
      try {
        const origin = new URL(server.monitorUrl!).origin;
        const outside: string[] = [];
        const seen: string[] = [];
        const problems: string[] = [];
        context = await launch(userDataDir);
        // Every request the page makes passes here: the server's own are let through, any other is refused and recorded.
        await context.route('**/*', (route) => {
          const url = route.request().url();
          seen.push(url);
          if (new URL(url).origin === origin) return route.continue();
          outside.push(url);
          return route.abort();
        });
        const page = context.pages()[0] ?? (await context.newPage());
        page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
        });
        const res = await page.goto(`${server.monitorUrl}/`);
        assert.equal(res?.status(), 200);
        assert.match(res?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
        // nats-server's / is a page of links to the endpoints: they are all here, and they answer.
        const hrefs = await page.$$eval('footer a', (as) => as.map((a) => a.getAttribute('href')));
        for (const p of ['varz', 'connz', 'routez', 'subsz', 'accountz', 'jsz', 'healthz', 'metrics']) {
          assert.ok(hrefs.includes(`./${p}`), `link to /${p}`);
          assert.equal((await fetch(`${server.monitorUrl}/${p}`)).status, 200, `/${p} answers`);
        }

        await waitText(page, '#connections', (t) => t === '0', 'no client yet');
        await waitText(page, '#shards', (t) => t.includes('shard 0') && t.includes('shard 1'), 'per-shard event-loop use');
        await waitText(page, '#streams', (t) => t.includes('no streams'), 'JetStream on, no stream yet');

        const client = await connect({ servers: server.url, name: 'dashboard-test-client' });
        let publishing: NodeJS.Timeout | null = null;
        try {
          await waitText(page, '#connections', (t) => t === '1', 'the count follows a client connecting');
          await waitText(page, '#conns', (t) => t.includes('dashboard-test-client'), 'the client among the busiest connections');
          const jsm = await jetstreamManager(client);
          await jsm.streams.add({ name: 'DASHBOARD_ORDERS', subjects: ['dash.orders.>'] });
          await jsm.consumers.add('DASHBOARD_ORDERS', { durable_name: 'dash-worker', ack_policy: 'explicit' });
          const js = jetstream(client);
          for (let i = 0; i < 5; i++) await js.publish(`dash.orders.${i}`, 'order');
          await waitText(page, '#streams', (t) => t.includes('DASHBOARD_ORDERS') && t.includes('dash-worker'), 'the stream and its consumer');
          // Messages flowing: the in-rate chart shows them.
          publishing = setInterval(() => {
            for (let i = 0; i < 50; i++) client.publish('dash.load', 'x');
          }, 20);
          await waitText(page, '#rate-in-msgs', (t) => t !== '–' && Number.parseFloat(t) > 0, 'messages in per second');
          // A few more seconds of history, so the kept screenshot shows the charts moving.
          const polls = Number(await page.getAttribute('body', 'data-polls'));
          const deadline = Date.now() + 20_000;
          while (Number(await page.getAttribute('body', 'data-polls')) < polls + 3 && Date.now() < deadline) await page.waitForTimeout(100);
          const points = await page.$eval('#chart-in-msgs polyline', (p) => p.getAttribute('points') ?? '');
          assert.ok(points.split(' ').length >= 2, `the chart has a line: ${points}`);
          clearInterval(publishing);
          publishing = null;
          mkdirSync(artifacts, { recursive: true });
          await page.screenshot({ path: join(artifacts, `dashboard-${nativeFree ? 'native-free' : 'default'}.png`), fullPage: true });
        } finally {
          if (publishing !== null) clearInterval(publishing);
          await client.close();
        }
        await waitText(page, '#connections', (t) => t === '0', 'the count follows the client leaving');
        assert.match((await page.textContent('#status')) ?? '', /^live/);
        assert.deepEqual(outside, [], 'the page asked for something outside the server');
        assert.ok(seen.length > 5 && seen.every((u) => new URL(u).origin === origin), `requests: ${seen.slice(0, 5).join(' ')}`);
        assert.deepEqual(problems, []);
      } finally {
        await context?.close();
        rmSync(userDataDir, { recursive: true, force: true });
        await server.stop();
      }
    });
  });
}
