/**
 * Issue #16: Zonemaster's test cases give no more findings for the zones meridian signs online
 * than for the same zones, with the same keys imported, served by Knot signing online
 * (mod-onlinesign) or signing at load (dnssec-signing; Knot refuses the two together).
 * Offline: a network namespace holds a root and a `test.` TLD (Knot) delegating, with DS, to
 * two nameserver addresses where meridian (`serve`, steered `www` included), then Knot, serve
 * `example.test.` (ECDSAP256SHA256, one combined key) and `split.test.` (ED25519, KSK/ZSK
 * split); zonemaster-cli runs every test module there.
 * Every finding at NOTICE or above meridian gets and Knot does not must be in ACCEPTED with
 * its reason; Knot's own findings must all come from the lab (LAB_FINDINGS), so a broken lab
 * cannot pass by failing both alike.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath, untilServing } from '../support/process.js';
import { ADDRESSES, GEO_POLICY } from '../support/signed-zone.js';
import { projectRoot } from '../support/test-server.js';
import {
  atLeast,
  findingKey,
  formatFinding,
  LAB,
  labDaemon,
  runZonemaster,
  startKnotInNs,
  startLab,
  waitForAnswer,
  zonemasterLabSkip,
  type Finding,
  type Lab,
  type LabDaemon,
} from './helpers/zonemaster-lab.js';
import { parseName } from '../../src/dns/name.js';
import { RRType } from '../../src/dns/constants.js';
import { ALGORITHMS, dsRdata, generateKey, type GeneratedKey } from '../../src/dnssec/keys.js';
import { rdataToText } from '../../src/zone/rdata/index.js';

const skip = zonemasterLabSkip();
if (skip) console.log(`# skipping the Zonemaster comparison: ${skip}`);

/** The lowest level compared: NOTICE and above are findings; INFO and DEBUG say what was checked. */
const COMPARED = 'NOTICE';

interface Accepted {
  /** findingKey of the finding, e.g. "WARNING NAMESERVER/NAMESERVER11 NO_EDNS_OPTION_SUPPORT". */
  readonly key: string;
  /** Why it is right, or what work it waits for. */
  readonly reason: string;
}

/** Findings meridian gets and Knot does not, each with its reason. */
const ACCEPTED: readonly Accepted[] = [];

/** What the offline lab itself causes, for any server: all Knot may get. */
const LAB_FINDINGS: readonly Accepted[] = [
  {
    key: 'ERROR ADDRESS/ADDRESS01 NAMESERVER_IP_PRIVATE_NETWORK',
    reason: 'the lab numbers its nameservers from the documentation prefixes (RFC 5737), which Zonemaster says are not globally routable',
  },
  {
    key: 'NOTICE DELEGATION/DELEGATION01 NO_IPV6_NS_CHILD',
    reason: 'the lab has no IPv6 (zonemaster-cli --no-ipv6), so no nameserver has an AAAA record',
  },
  {
    key: 'NOTICE DELEGATION/DELEGATION01 NO_IPV6_NS_DEL',
    reason: 'the lab has no IPv6 (zonemaster-cli --no-ipv6), so the delegation has no IPv6 glue either',
  },
];

/** The zones under test: how they are signed, and (made in before()) their keys, the KSK first. */
interface ZoneUnderTest {
  readonly zone: string;
  readonly algorithm: 'ECDSAP256SHA256' | 'ED25519';
  readonly split: boolean;
  keys: GeneratedKey[];
}

const ZONES: ZoneUnderTest[] = [
  { zone: 'example.test.', algorithm: 'ECDSAP256SHA256', split: false, keys: [] },
  { zone: 'split.test.', algorithm: 'ED25519', split: true, keys: [] },
];

const NS = [
  { name: 'ns1.example.test.', address: LAB.ns1 },
  { name: 'ns2.example.test.', address: LAB.ns2 },
];

/** The zone as meridian serves it: `www` is steered by GEO_POLICY (a client it cannot place gets `us`). */
function zoneText(zone: string): string {
  return `$ORIGIN ${zone}
$TTL 3600
@        IN SOA ns1.example.test. hostmaster 1 14400 3600 1209600 300
@        IN NS  ns1.example.test.
@        IN NS  ns2.example.test.
@        IN MX  10 mail
${zone === 'example.test.' ? NS.map((n) => `${n.name} IN A ${n.address}`).join('\n') : ''}
mail     IN A   198.51.100.25
info     IN TXT "hello" "signed"
alias    IN CNAME www
*.wild   IN A   198.51.100.99
a.b.ent  IN TXT "below an empty non-terminal"
`;
}

/** What a client meridian cannot place gets for `www`, written as a record for Knot. */
const KNOT_WWW = `www 30 IN A ${ADDRESSES.us}\n`;

let dir: string;
let lab: Lab;

/** The servers compared: meridian, and Knot signing each answer as it goes and signing the zone at load. */
const KNOT_MODES = { 'knot (mod-onlinesign)': 'onlinesign', 'knot (dnssec-signing)': 'signing' } as const;
type Server = 'meridian' | keyof typeof KNOT_MODES;
const KNOTS = Object.keys(KNOT_MODES) as (keyof typeof KNOT_MODES)[];

/** Each server's findings per zone. */
const found: Record<Server, Record<string, Finding[]>> = { meridian: {}, 'knot (mod-onlinesign)': {}, 'knot (dnssec-signing)': {} };

/** Runs Zonemaster on every zone while `serve` is up; `serve` returns the running server. */
async function zonemasterAgainst(server: Server, serve: () => Promise<LabDaemon>): Promise<void> {
  const daemon = await serve();
  try {
    for (const z of ZONES) {
      // Both addresses answer, signed, before Zonemaster asks.
      for (const a of [LAB.ns1, LAB.ns2]) await waitForAnswer(lab.ns, a, z.zone, 'DNSKEY', /^DNSKEY /m, daemon);
      found[server][z.zone] = await runZonemaster(lab, z.zone);
    }
  } finally {
    await daemon.stop();
  }
}

const findingsAtOrAbove = (fs: readonly Finding[]): Finding[] => fs.filter((f) => atLeast(f, COMPARED));

describe('Zonemaster finds no more in the zones meridian signs than in the same zones Knot signs', { skip, timeout: 120_000 }, () => {
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-zonemaster-'));
    for (const z of ZONES) {
      const name = parseName(z.zone, null);
      const keyDir = path.join(dir, 'keys', z.zone);
      z.keys = [generateKey(name, ALGORITHMS[z.algorithm], keyDir)];
      if (z.split) z.keys.push(generateKey(name, ALGORITHMS[z.algorithm], keyDir, undefined, { zsk: true }));
    }
    // The DS names the key-signing key (the first), as the parent would publish it.
    lab = await startLab(
      dir,
      ZONES.map((z) => ({ zone: z.zone, ns: NS, ds: [rdataToText(RRType.DS, dsRdata(parseName(z.zone, null), z.keys[0]!.key.dnskey))] })),
    );
  });
  after(async () => {
    await lab?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs Zonemaster against meridian (serve, online signing), then against Knot (mod-onlinesign, then dnssec-signing) on the same addresses', async () => {
    const zonesDir = path.join(dir, 'meridian-zones');
    fs.mkdirSync(zonesDir);
    for (const z of ZONES) {
      fs.writeFileSync(path.join(zonesDir, `${z.zone}zone`), zoneText(z.zone));
      fs.writeFileSync(path.join(zonesDir, `${z.zone}policy.yaml`), GEO_POLICY);
    }
    const config = path.join(dir, 'meridian.yaml');
    fs.writeFileSync(
      config,
      [
        `geoip: { location: ${JSON.stringify(path.join(projectRoot, 'test/fixtures/geoip/GeoIP2-City-Test.mmdb'))} }`,
        'health: { stateFile: null }',
        'zones: { watch: false }',
        'dns:',
        '  dnssec:',
        '    zones:',
        ...ZONES.map((z) => `      ${z.zone.slice(0, -1)}: { algorithm: ${z.algorithm}, keyDir: ${JSON.stringify(path.dirname(z.keys[0]!.keyFile))}, split: ${z.split} }`),
        '',
      ].join('\n'),
    );
    await zonemasterAgainst('meridian', async () => {
      const child = lab.ns.spawn(process.execPath, [
        cliPath,
        'serve',
        '--config',
        config,
        '--zones',
        zonesDir,
        '--listen',
        `${LAB.ns1}:53`,
        '--listen',
        `${LAB.ns2}:53`,
        '--admin',
        'off',
        '--log-level',
        'info',
      ]);
      const daemon = labDaemon(child);
      await untilServing(child, 30_000);
      return daemon;
    });

    const knotZones = ZONES.map((z) => {
      const file = path.join(dir, `knot-${z.zone}zone`);
      fs.writeFileSync(file, zoneText(z.zone) + KNOT_WWW);
      return { origin: z.zone, file };
    });
    for (const server of KNOTS)
      await zonemasterAgainst(server, () =>
        startKnotInNs(lab.ns, path.join(dir, KNOT_MODES[server]), [LAB.ns1, LAB.ns2], knotZones, {
          // The policy's algorithm only names what Knot would make; manual: it signs with the imported keys, Ed25519 ones too.
          dnssec: { mode: KNOT_MODES[server], algorithm: 'ecdsap256sha256', manual: true },
          keys: Object.fromEntries(ZONES.map((z) => [z.zone, z.keys.map((k) => k.privateFile)])),
        }),
      );

    for (const server of ['meridian', ...KNOTS] as const)
      for (const z of ZONES) {
        const list = findingsAtOrAbove(found[server][z.zone] ?? []).map(findingKey);
        const counted = [...new Set(list)].map((k) => `${k} ×${list.filter((l) => l === k).length}`);
        console.log(`# ${server} ${z.zone}: ${counted.join(', ') || 'no findings'}`);
      }
  });

  it('the lab works: Zonemaster reached both servers and ran the DNSSEC checks, and Knot gets only what the lab causes', () => {
    const lab = new Set(LAB_FINDINGS.map((a) => a.key));
    for (const server of ['meridian', ...KNOTS] as const)
      for (const z of ZONES) {
        const tags = new Set((found[server][z.zone] ?? []).map((f) => f.tag));
        // Each says a check ran and passed: the zone is delegated and answers, its SOA and DNSKEY are signed with a
        // fine algorithm, denial has NSEC, both nameservers answer alike (a DS matching no key would be an ERROR).
        for (const tag of ['HAS_NAMESERVERS', 'RRSIG_EXPIRATION', 'ALGORITHM_OK', 'DS10_HAS_NSEC', 'ONE_SOA_SERIAL', 'EDNS0_SUPPORT', 'CAN_BE_RESOLVED'])
          assert.ok(tags.has(tag), `${server} ${z.zone}: no ${tag} from Zonemaster:\n${(found[server][z.zone] ?? []).map(formatFinding).join('\n')}`);
      }
    for (const server of KNOTS)
      for (const z of ZONES) {
        const unexplained = findingsAtOrAbove(found[server][z.zone] ?? []).filter((f) => !lab.has(findingKey(f)));
        assert.deepEqual(unexplained.map(formatFinding), [], `${server} ${z.zone}: findings the lab does not explain (a broken lab, or a new Zonemaster or Knot)`);
      }
  });

  it('meridian gets no finding Knot does not, in either mode, but for the accepted ones', () => {
    const accepted = new Set(ACCEPTED.map((a) => a.key));
    const seen = new Set<string>();
    const extra: string[] = [];
    for (const server of KNOTS)
      for (const z of ZONES) {
        const [meridian, knotFound] = [found.meridian[z.zone], found[server][z.zone]];
        assert.ok(meridian && knotFound, `${z.zone}: Zonemaster did not run against both meridian and ${server}`);
        const knot = new Set(findingsAtOrAbove(knotFound).map(findingKey));
        for (const f of findingsAtOrAbove(meridian)) {
          if (knot.has(findingKey(f))) continue;
          if (accepted.has(findingKey(f))) seen.add(findingKey(f));
          else extra.push(`${z.zone}, not from ${server}: ${formatFinding(f)}`);
        }
      }
    assert.deepEqual(extra, [], 'findings for meridian that Knot does not get');
    // An accepted difference that no longer shows is stale: take it out of the table.
    assert.deepEqual(
      ACCEPTED.filter((a) => !seen.has(a.key)).map((a) => a.key),
      [],
      'accepted differences not seen any more',
    );
  });

  it('every accepted difference and lab finding has a reason', () => {
    for (const a of [...ACCEPTED, ...LAB_FINDINGS]) {
      assert.match(a.key, /^(CRITICAL|ERROR|WARNING|NOTICE) [A-Z]+\/[A-Z0-9]+ [A-Z0-9_]+$/, a.key);
      assert.ok(a.reason.trim().length > 20, `${a.key} needs a reason`);
    }
  });
});
