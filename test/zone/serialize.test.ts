/**
 * Issue #18 item 5: serialisation (src/zone/serialize.ts) in process. Each row is one record
 * as written in a zone file and as serializeZone writes it back (absolute owner, TTL, class,
 * type, RDATA in canonical presentation form); the file written loads back as the same zone,
 * and the sliced writer writes the same lines.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseName } from '../../src/dns/name.js';
import { bumpSerial, serializeZone, serializeZoneSliced, zoneRecords } from '../../src/zone/serialize.js';
import { TimeSlicer } from '../../src/zone/time-slice.js';
import type { Zone } from '../../src/zone/zone.js';
import { zoneFromText } from '../support/zone-text.js';

const APEX = '$ORIGIN s.\n$TTL 300\n@ SOA ns1 hostmaster 4294967295 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\n';
const APEX_LINES = ['s.\t300\tIN\tSOA\tns1.s. hostmaster.s. 4294967295 7200 3600 1209600 60', 's.\t300\tIN\tNS\tns1.s.', 'ns1.s.\t300\tIN\tA\t192.0.2.1'];

/** [what, as written in the file, as serializeZone writes it] */
const rows: Array<[string, string, string]> = [
  ['A', 'www A 192.0.2.10', 'www.s.\t300\tIN\tA\t192.0.2.10'],
  ['AAAA, compressed to RFC 5952 form', 'www AAAA 2001:DB8:0:0:0:0:0:10', 'www.s.\t300\tIN\tAAAA\t2001:db8::10'],
  ['a TTL of its own', 'short 5 A 192.0.2.11', 'short.s.\t5\tIN\tA\t192.0.2.11'],
  ['CNAME out of the zone', 'alias CNAME www.example.org.', 'alias.s.\t300\tIN\tCNAME\twww.example.org.'],
  ['MX, a relative exchange made absolute', 'mx MX 10 mail', 'mx.s.\t300\tIN\tMX\t10 mail.s.'],
  ['TXT with quotes, escapes and several strings', 'txt TXT "a \\"quoted\\" word" "semi;colon" "back\\\\slash"', 'txt.s.\t300\tIN\tTXT\t"a \\"quoted\\" word" "semi;colon" "back\\\\slash"'],
  ['TXT with a non-ASCII octet', 'bin TXT "caf\\195\\169"', 'bin.s.\t300\tIN\tTXT\t"caf\\195\\169"'],
  ['SRV', '_sip._tcp SRV 10 60 5060 sip', '_sip._tcp.s.\t300\tIN\tSRV\t10 60 5060 sip.s.'],
  ['CAA', 'caa CAA 0 issue "ca.example.net"', 'caa.s.\t300\tIN\tCAA\t0 issue "ca.example.net"'],
  ['PTR', 'ptr PTR host.example.org.', 'ptr.s.\t300\tIN\tPTR\thost.example.org.'],
  ['DNAME', 'old DNAME new.example.org.', 'old.s.\t300\tIN\tDNAME\tnew.example.org.'],
  ['a wildcard owner', '*.wild A 192.0.2.99', '*.wild.s.\t300\tIN\tA\t192.0.2.99'],
  ['an owner with an escaped dot and a space', 'a\\.b\\032c TXT "odd"', 'a\\.b\\032c.s.\t300\tIN\tTXT\t"odd"'],
  ['an unknown type in RFC 3597 form', 'unk TYPE65280 \\# 3 010203', 'unk.s.\t300\tIN\tTYPE65280\t\\# 3 010203'],
  ['a delegation with glue', 'sub NS ns.sub\nns.sub A 192.0.2.53', 'sub.s.\t300\tIN\tNS\tns.sub.s.\nns.sub.s.\t300\tIN\tA\t192.0.2.53'],
];

/** The RRsets of a zone as comparable text, every node included (empty non-terminals too). */
function dump(zone: Zone): string[] {
  const out: string[] = [];
  for (const [key, node] of zone.nodes) {
    const sets = [...node.rrsets.values()].map((s) => `${s.type}/${s.ttl}/${s.rdatas.map((r) => r.toString('hex')).join(',')}`);
    out.push(`${key} cut=${node.isCut} ${sets.join(' ')}`);
  }
  return out.sort().concat(`records=${zone.recordCount} serial=${zone.serial}`);
}

describe('serialisation: records back to a master file, and back again', () => {
  for (const [what, written, serialised] of rows) {
    it(what, async () => {
      const zone = zoneFromText('s.', `${APEX}${written}\n`);
      const text = serializeZone(zone.origin, zoneRecords(zone), 'a note');
      const lines = text.split('\n');
      assert.deepEqual(lines.slice(0, 2), ['; s. a note', '$ORIGIN s.']);
      assert.deepEqual(lines.slice(2, 4), APEX_LINES.slice(0, 2), 'the apex first, SOA then NS');
      assert.deepEqual(
        lines
          .slice(4)
          .filter((l) => l !== '')
          .sort(),
        [APEX_LINES[2]!, ...serialised.split('\n')].sort(),
      );
      assert.deepEqual(dump(zoneFromText('s.', text)), dump(zone), 'loads back as the same zone');
      const sliced = Buffer.concat(await serializeZoneSliced(zone, 'a note', new TimeSlicer(0))).toString();
      assert.deepEqual(sliced.split('\n').sort(), lines.sort(), 'the sliced writer writes the same lines');
    });
  }

  it('bumpSerial moves the serial by one, wrapping at 2^32 (RFC 1982), and nothing else', () => {
    const zone = zoneFromText('s.', APEX);
    const soa = zone.soa.rdatas[0]!;
    const bumped = bumpSerial(soa, zone.serial);
    assert.equal(bumped.readUInt32BE(bumped.length - 20), 0);
    assert.deepEqual(bumped.subarray(bumped.length - 16), soa.subarray(soa.length - 16));
    assert.deepEqual(bumped.subarray(0, soa.length - 20), soa.subarray(0, soa.length - 20));
    assert.equal(bumpSerial(bumped, 0).readUInt32BE(bumped.length - 20), 1);
    assert.notEqual(soa.readUInt32BE(soa.length - 20), 0, 'the RDATA given is left as it was');
  });

  it('zoneRecords lists names in canonical order, label by label from the right', () => {
    const zone = zoneFromText('s.', `${APEX}b A 192.0.2.2\na.b A 192.0.2.3\nz A 192.0.2.4\na A 192.0.2.5\n`);
    const owners = zoneRecords(zone).map((r) => r.owner.join('.'));
    assert.deepEqual(owners, ['s', 's', 'a.s', 'b.s', 'a.b.s', 'ns1.s', 'z.s']);
  });

  it('a name under a different origin is written absolute', () => {
    const zone = zoneFromText('s.', APEX);
    assert.match(serializeZone(parseName('s.', null), zoneRecords(zone), 'x'), /^ns1\.s\.\t/m);
  });
});
