/**
 * The web dashboard in headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against a real 3-node swarm (the compiled binary: `npm run
 * build` first). Loopback only, multicast off, join lists, port 0, temp dirs.
 * The nodes run with an API token, and the test makes the page's stream ask
 * for it (a 401 until the token is sent): the page must show its token form,
 * keep the token in the tab and send it. Then: the page lists the three nodes
 * and the leader, a SIGKILLed node turns dead without a reload, and a
 * screenshot is stored as a test artifact (test-artifacts/dashboard.png).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembersResponse } from '../../src/api/members-types.js';
import { consensusToml, loopbackToml } from '../helpers/config-toml.js';
import { isolatedEnv, startNode, type StartJson } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

const CHROMIUM = process.env.SWARM_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SYSROOT = fileURLToPath(new URL('../fixtures/sysroot/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const TOKEN = 'dashboard-e2e-token';

let root: string;
const pids = new Set<number>();
let browser: Browser | null = null;
/** The API URL of the first node, for the page tests after the swarm test. */
let pageUrl = '';

function env(device: string): NodeJS.ProcessEnv {
  return isolatedEnv(root, {
    SWARM_SYSFS_ROOT: join(SYSROOT, device),
  });
}

async function get<T>(url: string): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return (await r.json()) as T;
}

/** Poll (bounded) until `check` returns a value. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | null>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-webdash-e2e-'));
  writeFileSync(
    join(root, 'config.toml'),
    loopbackToml(
      [],
      [
        ...consensusToml(100, 500, 1000),
        '[energy]',
        'collection_interval_ms = 500',
        '[security]',
        `api_token = "${TOKEN}"`,
      ],
    ),
  );
});

afterAll(async () => {
  await browser?.close();
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!HAVE_CHROMIUM)(
  `web dashboard in headless Chromium${HAVE_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium)`}`,
  () => {
    it('asks for the token, lists the three nodes and the leader, shows a killed node dead without reload', async () => {
      const config = join(root, 'config.toml');
      const start = (name: string, device: string, seeds: readonly string[]): Promise<StartJson> =>
        startNode({
          config,
          dir: join(root, name),
          extra: ['--name', name, '--no-multicast'],
          join: seeds,
          env: env(device),
          pids,
        });
      const n1 = await start('alpha', 'rpi4', []);
      pageUrl = n1.api_url;
      const st1 = await get<{ addresses: { gossip: string } }>(`${n1.api_url}/v1/status`);
      const seed = [st1.addresses.gossip];
      const [n2, n3] = await Promise.all([
        start('bravo', 'pi-zero-2w-hat', seed),
        start('charlie', 'rpi4', seed),
      ]);

      // The swarm is up: three alive members and a leader in node alpha's view.
      const view = await until('three alive members and a leader', 60_000, async () => {
        const v = await get<MembersResponse>(`${n1.api_url}/v1/members`);
        const ok = v.members.filter((m) => m.status === 'alive').length === 3 && v.leader !== null;
        return ok ? v : null;
      });
      const leaderName = view.members.find((m) => m.id === view.leader)?.name;

      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // Root in CI has no user namespace sandbox to drop into.
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      });
      // The page's CSP forbids eval, which the test's own string probes need (not the page).
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));

      // Reads are open on a node (docs/api.md); this test closes the stream to callers without the
      // token, so the page's token path is exercised: 401 until it sends `Authorization: Bearer`.
      const streamAuth: string[] = [];
      await page.route('**/v1/dashboard/stream*', async (route) => {
        const auth = route.request().headers()['authorization'] ?? '';
        streamAuth.push(auth);
        if (auth !== `Bearer ${TOKEN}`)
          return route.fulfill({
            status: 401,
            contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'unauthorized', message: 'token needed' } }),
          });
        return route.continue();
      });

      await page.goto(`${n1.api_url}/`);
      await page.locator('#token-panel').waitFor({ state: 'visible', timeout: 15_000 });
      await page.fill('#token-input', TOKEN);
      await page.click('#token-form button[type=submit]');
      expect(await page.evaluate("sessionStorage.getItem('swarm.api_token')")).toBe(TOKEN);

      // Three rows, all alive, and the leader the API reports.
      // (Browser-side code as strings: this project's TypeScript has no DOM types.)
      await page.waitForFunction(
        `document.querySelectorAll('#members tbody tr[data-status="alive"]').length === 3`,
        undefined,
        { timeout: 30_000 },
      );
      expect(streamAuth.at(-1)).toBe(`Bearer ${TOKEN}`);
      const rows = page.locator('#members tbody tr');
      const names: string[] = [];
      for (let i = 0; i < (await rows.count()); i++)
        names.push((await rows.nth(i).getAttribute('data-name')) ?? '');
      names.sort();
      expect(names).toEqual(['alpha', 'bravo', 'charlie']);
      await page.waitForFunction(
        `document.getElementById('leader')?.dataset.id === ${JSON.stringify(view.leader)}`,
        undefined,
        {
          timeout: 15_000,
        },
      );
      expect(await page.textContent('#leader')).toBe(leaderName);
      expect(await page.textContent('#gossip-mode')).toMatch(/^\w+, \d+ ms, fanout \d+$/);
      // The battery node's figures come through gossip (they may arrive after its record): 64% on the Pi Zero fixture.
      await page.waitForFunction(
        `document.querySelector('#members tbody tr[data-name="bravo"] td:nth-child(6)')?.textContent === '64%'`,
        undefined,
        { timeout: 30_000, polling: 250 },
      );
      await page.locator('#charts .chart').first().waitFor({ timeout: 15_000 });

      // Kill a node that is not the page's own; it must turn dead on the page, with no reload.
      await page.evaluate('window.__sameDocument = true');
      const victim = [n2, n3].find((n) => n.id !== view.leader) ?? n3;
      process.kill(victim.pid, 'SIGKILL');
      await page.waitForFunction(
        `document.querySelector('#members tbody tr[data-id="${victim.id}"]')?.dataset.status === 'dead'`,
        undefined,
        { timeout: 90_000, polling: 500 },
      );
      expect(await page.evaluate('window.__sameDocument')).toBe(true);
      expect(await page.locator('#members tbody tr[data-status="alive"]').count()).toBe(2);
      expect(await page.getAttribute('#conn', 'data-state')).toBe('live');

      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(existsSync(shot)).toBe(true);
      expect(pageErrors).toEqual([]);
    }, 180_000);

    it('shows tasks per node while /v1/tasks answers, and hides the section when it does not', async () => {
      expect(pageUrl, 'the swarm test runs first').not.toBe('');
      const page = await browser!.newPage({ bypassCSP: true });
      const member = (id: string, name: string) => ({
        id,
        name,
        device_class: 'standard',
        status: 'alive',
        raft_role: id === 'n1' ? 'leader' : 'follower',
        self: id === 'n1',
        last_change: new Date().toISOString(),
        addresses: { api: null },
        energy: null,
      });
      const snapshot = (tasks: unknown) => ({
        at: new Date().toISOString(),
        status: { name: 'alpha', term: 2, leader: 'n1', commit_index: 9 },
        members: {
          leader: 'n1',
          adaptive: { mode: 'normal', interval_ms: 1000, fanout: 3, reason: 'start' },
          members: [member('n1', 'alpha'), member('n2', 'bravo')],
        },
        energy: null,
        tasks,
        unavailable: tasks === null ? { tasks: 'not_found' } : {},
        history: [],
      });
      // The stream as a node with tasks, then (after the page reconnects) as one without the route.
      const bodies = [
        snapshot({
          tasks: [
            { name: 'camera', allocations: [{ n: 0, node: 'n2', node_name: 'bravo', state: 'running' }] },
            { name: 'sensor', allocations: [] },
          ],
        }),
        snapshot(null),
      ];
      let served = 0;
      await page.route('**/v1/dashboard/stream*', (route) =>
        route.fulfill({
          status: 200,
          contentType: 'text/event-stream',
          body: `event: snapshot\ndata: ${JSON.stringify(bodies[Math.min(served++, 1)])}\n\n`,
        }),
      );
      await page.goto(`${pageUrl}/`);
      await page.locator('#tasks-section').waitFor({ state: 'visible', timeout: 15_000 });
      expect(await page.textContent('#tasks [data-node="n2"]')).toBe('bravocamera.0 running');
      expect(await page.textContent('#tasks [data-node=""]')).toBe('not placedsensor');
      await page.locator('#tasks-section').waitFor({ state: 'hidden', timeout: 15_000 });
      expect(served).toBeGreaterThanOrEqual(2);
      await page.close();
    }, 60_000);
  },
);
