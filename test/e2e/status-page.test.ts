/**
 * Issue #8: the status page. GET /v1/dashboard (the JSON the page reads) is checked field
 * by field after real DNS traffic; then the page itself is loaded in headless Chromium and
 * its DOM read back, before and after a region is drained through the admin API and another
 * one's health endpoint dies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Dashboard } from '../../src/admin/dashboard.js';
import { udp } from '../support/dns-client.js';
import { ecsOption } from '../support/ecs.js';
import { dumpDom, elementWith, findChromium } from './helpers/chromium.js';
import { startWorld, SUBNETS, type World } from './helpers/world.js';

const TOKEN = 'e2e-status-page-token-0123456789';
const noChromium = findChromium() === null ? 'chromium is not installed (Debian package chromium; .ci/run installs it)' : false;

let world: World;
let base = '';

// oxlint-disable-next-line typescript/no-unnecessary-type-parameters -- the caller names the JSON body's type
async function api<T>(path: string, init: { method?: string; token?: string | null } = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const token = init.token === undefined ? TOKEN : init.token;
  const res = await fetch(base + path, { method: init.method ?? 'GET', headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T, headers: res.headers };
}

const dashboard = async (): Promise<Dashboard> => (await api<Dashboard>('/v1/dashboard')).body;
const target = (d: Dashboard, key: string) => d.regions.flatMap((r) => r.targets).find((t) => t.key === key);
const continent = (d: Dashboard, code: string) => d.names.find((n) => n.name === 'www.example.com.')!.continents.find((c) => c.continent === code)!;

async function query(subnet: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await udp(world.server.port, 'www.example.com', 'A', { edns: true, options: [ecsOption(subnet)] });
}

describe('status page', () => {
  before(async () => {
    world = await startWorld({ admin: true, adminToken: TOKEN });
    base = `http://127.0.0.1:${world.server.adminAddress!.port}`;
    await query(SUBNETS.eu, 6);
    await query(SUBNETS.us, 2);
    await query(SUBNETS.ap, 2);
  });
  after(() => world?.close());

  it('GET /v1/dashboard needs a read token; the page itself does not', async () => {
    assert.equal((await api('/v1/dashboard', { token: null })).status, 401);
    assert.equal((await api('/v1/dashboard', { token: 'wrong-token-wrong-token' })).status, 401);
    assert.equal((await api('/dashboard', { token: null })).status, 200);
  });

  it('GET /v1/dashboard: each target with its health and share of the answers, and what each continent gets', async () => {
    const d = await dashboard();
    assert.equal(d.totalAnswers, 10);
    assert.equal(d.cluster, null, 'one node: no cluster block');
    assert.deepEqual(
      d.regions.map((r) => [r.region, r.state, r.answers, r.share]),
      [
        ['ap-southeast', 'up', 2, 0.2],
        ['eu-west', 'up', 6, 0.6],
        ['us-east', 'up', 2, 0.2],
      ],
    );
    const eu = target(d, 'example.com/eu')!;
    assert.equal(eu.state, 'up');
    assert.equal(eu.probed, true);
    assert.equal(eu.healthy, true);
    assert.equal(eu.reason, null);
    assert.ok(eu.rttMs !== null && eu.rttMs >= 0, 'probe RTT is known');
    // Five one-minute buckets, oldest first: the server started moments ago, so all answers are in the last.
    assert.equal(d.window.bucketSec, 60);
    assert.deepEqual(eu.perBucket, [0, 0, 0, 0, 6]);
    // The page counts what Prometheus is told: meridian_steered_answers_total per target.
    const metrics = (await api<string>('/metrics')).body;
    for (const t of d.regions.flatMap((r) => r.targets)) {
      const line = metrics.split('\n').find((l) => l.startsWith(`meridian_steered_answers_total{target="${t.key}",`));
      assert.equal(line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1)), t.answers, `${t.key}: /metrics and the dashboard agree`);
    }
    assert.ok(Date.parse(d.window.since) <= Date.parse(d.window.until));
    const answerOf = (code: string): string[] => continent(d, code).answers.flatMap((a) => a.regions);
    assert.deepEqual(answerOf('EU'), ['eu-west']);
    assert.deepEqual(answerOf('NA'), ['us-east']);
    assert.deepEqual(answerOf('AS'), ['ap-southeast']);
    assert.deepEqual(answerOf('OC'), ['ap-southeast']);
    // Real addresses of the database (GeoIP2-City-Test), located as the data plane locates them.
    assert.deepEqual([continent(d, 'EU').address, continent(d, 'EU').client], ['2a02:d180::1', '2a02:d180::1 (DE)']);
    assert.deepEqual([continent(d, 'OC').address, continent(d, 'OC').client], ['214.0.1.1', '214.0.1.1 (AU)']);
    // The test database has no South American address: no client to show, not an invented one.
    assert.deepEqual([continent(d, 'SA').outcome, continent(d, 'SA').address, answerOf('SA')], ['no-client', null, []]);
    assert.deepEqual(continent(d, 'EU').answers[0]!.addresses, ['192.0.2.1']);
    assert.equal(continent(d, 'EU').answers[0]!.share, 1);
  });

  it('serves the page, its script and style from itself, under a CSP that allows nothing else', async () => {
    const page = await api<string>('/dashboard', { token: null });
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|https?:/);
    // Every src and href is a path on this server.
    for (const m of page.body.matchAll(/(?:src|href)="([^"]*)"/g)) assert.match(m[1]!, /^\/[a-z.]+$/, `${m[0]} is local`);
    for (const asset of ['/dashboard.js', '/dashboard.css']) assert.equal((await api(asset, { token: null })).status, 200, asset);
  });

  it("shows every region up, the shares and each continent's answer in a browser", { skip: noChromium }, async () => {
    const dom = await dumpDom(`${base}/dashboard#token=${TOKEN}`);
    assert.match(dom, /<html[^>]* data-loaded="[^"]+"/, 'the script rendered the data');
    for (const key of ['example.com/eu', 'example.com/us', 'example.com/ap']) {
      assert.equal(elementWith(dom, 'data-target', key)?.['data-healthy'], 'true', key);
    }
    assert.equal(elementWith(dom, 'data-region', 'eu-west')?.['data-region-state'], 'up');
    assert.equal(elementWith(dom, 'data-continent', 'EU')?.['data-answer'], 'eu-west');
    assert.match(dom, /60\.0 %/, "eu-west's share");
    assert.match(dom, /3 regions, all up/);
    assert.match(dom, /<section id="cluster" hidden/, 'one node: no cluster section');
  });

  it('tells the operator to pass a token when none is given', { skip: noChromium }, async () => {
    const dom = await dumpDom(`${base}/dashboard`);
    assert.match(/<html[^>]* data-error="([^"]*)"/.exec(dom)?.[1] ?? '', /read token/);
  });

  it('shows a drained region and a failed probe after a reload', { skip: noChromium }, async () => {
    assert.equal((await api('/v1/regions/eu-west/drain', { method: 'POST' })).status, 200);
    await world.regions.ap.close();
    // Probes every second, down after one failure: wait until the monitor has seen it.
    const deadline = Date.now() + 5000;
    while (target(await dashboard(), 'example.com/ap')!.healthy) {
      assert.ok(Date.now() < deadline, 'ap did not go down within 5 s of its health endpoint closing');
      await new Promise((r) => setTimeout(r, 100));
    }
    const d = await dashboard();
    assert.equal(target(d, 'example.com/eu')!.forced, 'down');
    // Refused, or reset when a probe was in flight as the server closed.
    const reason = target(d, 'example.com/ap')!.reason!;
    assert.ok(['refused', 'reset'].includes(reason), `reason ${reason}`);
    assert.equal(continent(d, 'EU').answers[0]!.regions.join(), 'us-east', 'EU fails over to us');
    // Issue #20: Asia's only target is down, so its rule falls through to the default (us-east).
    assert.deepEqual([continent(d, 'AS').answers[0]!.regions.join(), continent(d, 'AS').allDown], ['us-east', false], "Asia's rule falls through to the default");

    const dom = await dumpDom(`${base}/dashboard#token=${TOKEN}`);
    assert.equal(elementWith(dom, 'data-target', 'example.com/eu')?.['data-healthy'], 'false');
    assert.equal(elementWith(dom, 'data-region', 'eu-west')?.['data-region-state'], 'down');
    assert.equal(elementWith(dom, 'data-target', 'example.com/ap')?.['data-state'], 'down');
    assert.equal(elementWith(dom, 'data-region', 'ap-southeast')?.['data-region-state'], 'down');
    assert.equal(elementWith(dom, 'data-region', 'us-east')?.['data-region-state'], 'up');
    assert.equal(elementWith(dom, 'data-continent', 'EU')?.['data-answer'], 'us-east');
    assert.match(dom, /forced down/);
    // The reason read above may have moved on (a probe in flight saw a reset, the next ones are refused).
    assert.ok(dom.includes(' refused<') || dom.includes(' reset<'), `the page shows why ap is down (${reason} when the API was asked)`);
    assert.match(dom, /3 regions, 2 not up/);
  });
});
