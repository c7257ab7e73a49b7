/**
 * `meridian explain NAME [A|AAAA] --client IP[/PREFIX]`, run as users run it (the built CLI
 * in a child process) on test/fixtures/steer: the trace, the addresses, the TTL and the ECS
 * scope, in text and --json, and the same decision the running server makes.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, rcodeOf, sendUdp } from '../support/dns-client.js';
import { ecsOf, ecsOption } from '../support/ecs.js';
import { runCli } from '../support/process.js';
import { explain } from '../../src/explain/explain.js';
import { projectRoot, startTestServer, type TestServer } from '../support/test-server.js';

const ZONES = path.join(projectRoot, 'test/fixtures/steer/zones');
const CONFIG = path.join(projectRoot, 'test/fixtures/steer/meridian.yaml');

interface TraceEntry {
  filter: string;
  kept: string[];
  why: string;
}
interface ExplainJson {
  name: string;
  type: string;
  steered: boolean;
  client: {
    address: string;
    family: number;
    sourcePrefix: number;
    fromEcs: boolean;
    geo: { continent: string | null; country: string | null; subdivisions: string[]; asn: number | null; geoPrefix: number | null; asnPrefix: number | null; source: string };
  };
  trace: TraceEntry[];
  outcome: 'answer' | 'nodata' | 'servfail' | 'not-steered';
  addresses: string[];
  ttl: number | null;
  scope: number;
  allDown: boolean;
}

const explainText = (...args: string[]): ReturnType<typeof runCli> => runCli(['explain', ...args, '--config', CONFIG]);

async function explainJson(...args: string[]): Promise<ExplainJson> {
  const r = await runCli(['explain', ...args, '--config', CONFIG, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return JSON.parse(r.stdout) as ExplainJson;
}

describe('meridian explain', { concurrency: 2 }, () => {
  it('prints the location, its database records, each filter, the answer, TTL and scope', async () => {
    const r = await explainText('geo.geo.test', 'A', '--client', '89.160.20.128/32');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'geo.geo.test. A for client 89.160.20.128/32 (as EDNS Client Subnet)');
    assert.match(r.stdout, /location: continent EU; country SE; subdivisions SE-E; location 58\.4167, 15\.6167; AS29518/);
    assert.match(r.stdout, /from: +GeoIP2-City 89\.160\.20\.128\/25; GeoLite2-ASN 89\.160\.0\.0\/17/);
    assert.match(r.stdout, /1\. targets +kept \[eu, us, ap, sa\]: the name's targets with IPv4 addresses/);
    assert.match(r.stdout, /2\. health +kept \[eu, us, ap, sa\]: all 4 up/);
    assert.match(r.stdout, /3\. geo +kept \[us\]: asn 29518 matched rules\[1\] \(scope \/17\)/);
    assert.match(r.stdout, /answer: +192\.0\.2\.2 \(TTL 30\)\n/);
    assert.equal(lines.at(-1), '  ECS scope: /17');
  });

  it('--json carries the same decision for a machine', async () => {
    const e = await explainJson('geo.geo.test', 'A', '--client', '89.160.20.128/32');
    assert.equal(e.name, 'geo.geo.test.');
    assert.equal(e.type, 'A');
    assert.equal(e.steered, true);
    assert.deepEqual(
      { address: e.client.address, family: e.client.family, sourcePrefix: e.client.sourcePrefix, fromEcs: e.client.fromEcs },
      { address: '89.160.20.128', family: 4, sourcePrefix: 32, fromEcs: true },
    );
    assert.equal(e.client.geo.country, 'SE');
    assert.equal(e.client.geo.continent, 'EU');
    assert.deepEqual(e.client.geo.subdivisions, ['SE-E']);
    assert.equal(e.client.geo.asn, 29518);
    assert.equal(e.client.geo.geoPrefix, 25);
    assert.equal(e.client.geo.asnPrefix, 17);
    assert.deepEqual(
      e.trace.map((t) => [t.filter, t.kept]),
      [
        ['targets', ['eu', 'us', 'ap', 'sa']],
        ['health', ['eu', 'us', 'ap', 'sa']],
        ['geo', ['us']],
      ],
    );
    assert.match(e.trace[2]!.why, /asn 29518 matched rules\[1\]/);
    assert.equal(e.outcome, 'answer');
    assert.deepEqual(e.addresses, ['192.0.2.2']);
    assert.equal(e.ttl, 30);
    assert.equal(e.scope, 17);
    assert.equal(e.allDown, false);
  });

  it('explains NODATA, SERVFAIL, fail-open and fallback', async () => {
    const [nodata, servfail, open, fallback] = await Promise.all([
      explainText('down-nodata.geo.test', 'A', '--client', '81.2.69.142/32'),
      explainText('down-servfail.geo.test', '--client', '81.2.69.142/32'),
      explainText('down-open.geo.test', 'A', '--client', '81.2.69.142/32'),
      explainJson('down-fallback.geo.test', 'A', '--client', '81.2.69.142/32'),
    ]);
    for (const r of [nodata, servfail, open]) assert.equal(r.code, 0, r.stderr);
    assert.match(nodata.stdout, /ECS scope: \/0 \(the answer does not depend on the client\)/);
    assert.match(nodata.stdout, /health +kept \[\]: down: off/);
    assert.match(nodata.stdout, /whenAllDown kept \[\]: no target left: NODATA, as the policy says/);
    assert.match(nodata.stdout, /answer: +NODATA/);
    assert.match(servfail.stdout, /^down-servfail\.geo\.test\. A for client/, 'the type defaults to A');
    assert.match(servfail.stdout, /answer: +SERVFAIL/);
    assert.match(open.stdout, /whenAllDown kept \[off\]: no target left: fail open/);
    assert.match(open.stdout, /answer: +192\.0\.2\.99 \(TTL 30\), every target was down/);
    assert.equal(fallback.outcome, 'answer');
    assert.deepEqual(fallback.addresses, ['192.0.2.3']);
    assert.equal(fallback.allDown, true);
    assert.deepEqual(fallback.trace.at(-1), { filter: 'whenAllDown', kept: ['ap'], why: 'no target left: the fallback pool' });
  });

  it('a client without /PREFIX is a resolver address; a static name is not steered', async () => {
    const resolver = await explainJson('geo.geo.test', 'A', '--client', '81.2.69.142');
    assert.equal(resolver.client.fromEcs, false);
    assert.equal(resolver.client.sourcePrefix, 32);
    assert.deepEqual(resolver.addresses, ['192.0.2.4']);
    const ns1Text = await explainText('ns1.geo.test', 'A', '--client', '81.2.69.142/32');
    assert.match(ns1Text.stdout, /not steered: answered from the zone file like any static record/);
  });

  it('a bad --client exits 2 with a clear message and prints nothing on stdout', async () => {
    const bad: Array<[string, RegExp]> = [
      ['1.2.3', /client "1\.2\.3" is not an IP address or prefix/],
      ['81.2.69.142/33', /prefix length in "81\.2\.69\.142\/33" must be 0\.\.32/],
      ['2001:218::1/129', /prefix length in "2001:218::1\/129" must be 0\.\.128/],
    ];
    await Promise.all(
      bad.map(async ([client, message]) => {
        const r = await explainText('geo.geo.test', 'A', '--client', client);
        assert.equal(r.code, 2, `--client ${JSON.stringify(client)}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^meridian explain: /);
        assert.match(r.stderr, message);
      }),
    );
    const type = await explainText('geo.geo.test', 'MX', '--client', '81.2.69.142');
    assert.equal(type.code, 2);
    assert.match(type.stderr, /type "MX": only A and AAAA answers are steered/);
    const missing = await explainText('geo.geo.test', 'A');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--client/);
  });
});

describe('meridian explain agrees with the running server', { concurrency: 2 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(ZONES, CONFIG);
  });
  after(async () => {
    await server.close();
  });

  const ask = async (name: string, type: string, client: string): Promise<{ rcode: number; addrs: string[]; ttl: number[]; scope: number | null }> => {
    const raw = await sendUdp(server.port, buildQuery(name, type, { edns: true, options: [ecsOption(client)], recursionDesired: false }));
    const msg = decode(raw);
    const rrs = (msg.answers ?? []).filter((a) => a.type === type);
    return { rcode: rcodeOf(raw), addrs: rrs.map((a) => String(a.data)), ttl: rrs.map((a) => a.ttl), scope: ecsOf(msg)?.scope ?? null };
  };

  // The built CLI, as users run it, for one case per filter; each checked against the trace
  // and against what the running server answers for the same ECS prefix.
  // [name, type, client, filter, why, addresses, scope]
  const cliCases: Array<[string, string, string, string, RegExp, string[], number]> = [
    ['geo.geo.test', 'A', '81.2.69.142/32', 'geo', /^cidr 81\.2\.69\.128\/25 matched rules\[0\] \(scope \/25\)$/, ['192.0.2.4'], 25],
    ['geo.geo.test', 'AAAA', '2001:218::/32', 'geo', /^continent AS matched rules\[5\] \(scope \/32\)$/, ['2001:db8:f::1'], 32],
    ['near.geo.test', 'A', '81.2.69.142/31', 'proximity', /^nearest 1 to 51\.51,-0\.09: eu \d+ km \(scope \/31\)$/, ['192.0.2.1'], 31],
    ['fast.geo.test', 'A', '175.16.199.1/32', 'latency', /^best 150 ms \(cidr 175\.16\.199\.0\/24\), keeping <= 155 ms: eu 150 ms \(cidr 175\.16\.199\.0\/24\) \(scope \/24\)$/, ['192.0.2.1'], 24],
    ['split.geo.test', 'A', '11.22.34.0/24', 'weighted', /^stable for 11\.22\.34\.0\/24: 1 of 2 by weight$/, ['192.0.2.12'], 24],
    ['many.geo.test', 'A', '81.2.69.142/32', 'first', /^the first 2 of 4$/, ['192.0.2.1', '192.0.2.2'], 0],
  ];
  it('the CLI explains each filter with the addresses, TTL and scope the server answers', async () => {
    await Promise.all(
      cliCases.map(async ([name, type, client, filter, why, addresses, scope]) => {
        const what = `${name} ${type} ${client}`;
        const [e, got] = await Promise.all([explainJson(name, type, '--client', client), ask(name, type, client)]);
        const step = e.trace.find((t) => t.filter === filter);
        assert.ok(step, `${what}: a ${filter} step in ${JSON.stringify(e.trace)}`);
        assert.match(step.why, why, what);
        assert.equal(e.client.family, client.includes(':') ? 6 : 4, what);
        assert.deepEqual(e.addresses, addresses, `${what}: explain addresses`);
        assert.equal(e.ttl, 30, what);
        assert.equal(e.scope, scope, `${what}: explain scope`);
        assert.equal(got.rcode, 0, what);
        assert.deepEqual(got.addrs, addresses, `${what}: server addresses`);
        assert.deepEqual(
          got.ttl,
          addresses.map(() => 30),
          `${what}: server TTL`,
        );
        assert.equal(got.scope, scope, `${what}: server scope`);
      }),
    );
  });

  // The same explain() the CLI runs, in-process on the server's own snapshot, for a wider
  // matrix (a CLI run costs most of a second): it must match the server's answers exactly.
  const matrix: Array<[string, string, string]> = [];
  const clients4 = [
    '81.2.69.142/32',
    '81.2.69.0/25',
    '89.160.20.128/32',
    '89.160.0.0/16',
    '216.160.83.56/29',
    '2.125.160.216/32',
    '214.78.120.0/22',
    '175.16.199.1/32',
    '67.43.156.0/24',
    '214.0.1.1/32',
    '2.3.3.0/24',
    '1.1.0.0/16',
    '11.22.33.0/24',
  ];
  const clients6 = ['2001:218::/32', '2a02:e700::/29', '2a02:d3c0::/29', '2001:480:10::/48'];
  for (const name of ['geo', 'near', 'fast', 'split', 'fo', 'single', 'many', 'v4only', 'down-open', 'down-nodata', 'down-servfail', 'down-fallback']) {
    for (const client of [...clients4, ...clients6]) for (const type of ['A', 'AAAA']) matrix.push([`${name}.geo.test`, type, client]);
  }
  it(`explain() matches the server for ${matrix.length} (name, type, client) triples`, async () => {
    for (const [name, type, client] of matrix) {
      const what = `${name} ${type} ${client}`;
      const e = explain(server.store.current, name, type, client);
      const got = await ask(name, type, client);
      assert.equal(got.rcode, e.outcome === 'servfail' ? 2 : 0, `${what}: rcode`);
      assert.deepEqual(got.addrs, e.addresses, `${what}: addresses`);
      for (const ttl of got.ttl) assert.equal(ttl, e.ttl, `${what}: TTL`);
      assert.equal(got.scope, e.scope, `${what}: ECS scope`);
    }
  });

  it('--client IP/PREFIX with host bits decides as the server does for that ECS prefix', async () => {
    // A resolver sends 216.160.83.0/24 (RFC 7871 §6: bits past the prefix MUST be 0); the
    // server looks up 216.160.83.0, which has no City record (default → us). explain looks
    // up 216.160.83.56 instead (US-WA → eu).
    const [e, got] = await Promise.all([explainJson('geo.geo.test', 'A', '--client', '216.160.83.56/24'), ask('geo.geo.test', 'A', '216.160.83.0/24')]);
    assert.deepEqual(e.addresses, got.addrs);
    assert.equal(e.scope, got.scope);
  });

  it('--client with a private or /0 prefix is refused: the server would use the resolver address', async () => {
    const got = await ask('geo.geo.test', 'A', '10.1.2.0/24');
    assert.equal(got.scope, 24, 'decided on the resolver address and claimed for the source /24 only');
    for (const client of ['10.1.2.0/24', '0.0.0.0/0', 'fd00::/8']) {
      const r = await runCli(['explain', 'geo.geo.test', 'A', '--client', client, '--config', CONFIG]);
      assert.equal(r.code, 2, client);
      assert.match(r.stderr, /uses the resolver's address/);
    }
  });
});
