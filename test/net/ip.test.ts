/** src/net: address validation, IPv4-mapped normalisation, parsing, RFC 5952 text, network text, classification. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLocatable, nonGlobalReason, nonGlobalV4Reason } from '../../src/net/ip-class.js';
import { formatAddress, formatIPv6, networkOf } from '../../src/net/ip-format.js';
import { ipv4Number, parseAddress, parseAddressAsWritten, parseIPOctets, parseIPv4Into, parseIPv6, parseIPv6Into, unmapIPv4, validAddress } from '../../src/net/ip-parse.js';

describe('validAddress', () => {
  it('keeps IPv4 and IPv6, turns ::ffff:a.b.c.d into IPv4', () => {
    const table: [string, string | null, number | null][] = [
      ['81.2.69.142', '81.2.69.142', 4],
      ['::ffff:81.2.69.142', '81.2.69.142', 4],
      ['::FFFF:81.2.69.142', '81.2.69.142', 4],
      ['::ffff:5102:458e', '81.2.69.142', 4], // the same, in hex
      ['0:0:0:0:0:ffff:5102:458e', '81.2.69.142', 4],
      ['2001:DB8::1', '2001:db8::1', 6],
      ['::1', '::1', 6],
      ['::81.2.69.142', '::81.2.69.142', 6], // IPv4-compatible (deprecated) is not mapped
      ['64:ff9b::81.2.69.142', '64:ff9b::81.2.69.142', 6], // NAT64 stays IPv6
      ['081.002.069.142', null, null],
      ['81.2.69.142%eth0', null, null],
      ['fe80::1%eth0', null, null],
      ['', null, null],
      ['1.2.3', null, null],
      ['::ffff:1.2.3', null, null],
      [' 1.2.3.4', null, null],
    ];
    for (const [input, address, family] of table) {
      const n = validAddress(input);
      assert.deepEqual(n === null ? [null, null] : [n.address, n.family], [address, family], input);
    }
    assert.equal(validAddress(42 as unknown as string), null);
  });
});

describe('parseIPv6 / formatIPv6', () => {
  it('round-trips to RFC 5952 text', () => {
    const table: [string, string][] = [
      ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longer run wins
      ['::ffff:1.2.3.4', '::ffff:102:304'],
    ];
    for (const [input, text] of table) assert.equal(formatIPv6(parseIPv6(input)!), text, input);
    assert.equal(parseIPv6('1.2.3.4'), null);
    assert.equal(parseIPv6('1:2:3:4:5:6:7:8:9'), null);
  });
});

describe('networkOf', () => {
  it('masks the host bits', () => {
    assert.equal(networkOf('81.2.69.142', 4, 31), '81.2.69.142/31');
    assert.equal(networkOf('81.2.69.143', 4, 31), '81.2.69.142/31');
    assert.equal(networkOf('89.160.20.128', 4, 17), '89.160.0.0/17');
    assert.equal(networkOf('1.2.3.4', 4, 0), '0.0.0.0/0');
    assert.equal(networkOf('1.2.3.4', 4, 32), '1.2.3.4/32');
    assert.equal(networkOf('2a02:e700::1', 6, 29), '2a02:e700::/29');
    assert.equal(networkOf('2001:218:ffff::1', 6, 32), '2001:218::/32');
    assert.equal(networkOf('2002:5102:458f::1', 6, 47), '2002:5102:458e::/47');
    assert.equal(networkOf('2001:db8::1', 6, 128), '2001:db8::1/128');
  });
});

describe('nonGlobalReason', () => {
  it('names the special-purpose block, and leaves public and documentation ranges alone', () => {
    const table: [string, string | null][] = [
      ['0.1.2.3', '"this network" 0.0.0.0/8 (RFC 791)'],
      ['10.255.255.255', 'private-use 10.0.0.0/8 (RFC 1918)'],
      ['100.64.0.1', 'shared address space 100.64.0.0/10 (RFC 6598)'],
      ['100.128.0.1', null],
      ['127.0.0.1', 'loopback 127.0.0.0/8 (RFC 1122)'],
      ['169.254.9.9', 'link-local 169.254.0.0/16 (RFC 3927)'],
      ['172.16.0.1', 'private-use 172.16.0.0/12 (RFC 1918)'],
      ['172.31.255.255', 'private-use 172.16.0.0/12 (RFC 1918)'],
      ['172.32.0.1', null],
      ['192.168.1.1', 'private-use 192.168.0.0/16 (RFC 1918)'],
      ['224.0.0.1', 'multicast 224.0.0.0/4 (RFC 5771)'],
      ['255.255.255.255', 'reserved 240.0.0.0/4 (RFC 1112)'],
      ['8.8.8.8', null],
      ['192.0.2.1', null],
      ['::', 'unspecified ::/128 (RFC 4291)'],
      ['::1', 'loopback ::1/128 (RFC 4291)'],
      ['::2', null],
      ['fd12:3456::1', 'unique-local fc00::/7 (RFC 4193)'],
      ['fe80::1', 'link-local fe80::/10 (RFC 4291)'],
      ['febf::1', 'link-local fe80::/10 (RFC 4291)'],
      ['fec0::1', null],
      ['ff02::1', 'multicast ff00::/8 (RFC 4291)'],
      ['2001:db8::1', null],
      ['2a02:e700::1', null],
    ];
    for (const [ip, why] of table) assert.equal(nonGlobalReason(parseIPOctets(ip)!), why, ip);
  });
});

describe('one parser, one formatter (src/net)', () => {
  it("parseIPv4Into reads from an offset into the caller's buffer, strict as node:net", () => {
    const out = new Uint8Array(4);
    assert.equal(parseIPv4Into('::ffff:81.2.69.142', 7, out), out);
    assert.deepEqual([...out], [81, 2, 69, 142]);
    for (const bad of ['081.2.69.142', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.4 ', '']) {
      assert.equal(parseIPv4Into(bad, 0, out), null, bad);
      assert.equal(ipv4Number(bad), -1, bad);
    }
    assert.equal(ipv4Number('255.255.255.255'), 0xffffffff);
  });

  it('parseIPv6Into writes 16 octets at an offset; node:net decides validity', () => {
    const out = new Uint8Array(20);
    assert.equal(parseIPv6Into('2001:db8::ffff:1.2.3.4', out, 2), true);
    assert.deepEqual([...out.subarray(2, 18)], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
    for (const bad of ['fe80::1%eth0', '1::2::3', '::ffff:01.2.3.4', '12345::', '1.2.3.4', '']) assert.equal(parseIPv6Into(bad, out), false, bad);
  });

  it('formatIPv6 agrees with the WHATWG URL serialiser (RFC 5952) on random addresses', () => {
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    const b = new Uint8Array(16);
    for (let n = 0; n < 3000; n++) {
      // Mostly zero groups, so runs of every length and position come up.
      for (let i = 0; i < 8; i++) {
        const w = rand() % 3 === 0 ? rand() & 0xffff : 0;
        b[2 * i] = w >> 8;
        b[2 * i + 1] = w & 0xff;
      }
      const text = formatIPv6(b);
      assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1), text);
      assert.deepEqual(parseIPv6(text), b, text);
      const value = parseAddressAsWritten(text)!.value;
      assert.equal(formatAddress({ family: 6, value }), text);
    }
  });

  it('formatIPv6 with a dotted tail only for ::a.b.c.d and ::ffff:a.b.c.d (zone data, as inet_ntop)', () => {
    const table: [string, string][] = [
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['::192.0.2.1', '::192.0.2.1'],
      ['::1', '::1'],
      ['::', '::'],
      ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
      ['::1:ffff:192.0.2.1', '::1:ffff:c000:201'],
    ];
    for (const [input, text] of table) assert.equal(formatIPv6(parseIPv6(input)!, 0, true), text, input);
    assert.equal(formatIPv6(parseIPv6('::ffff:192.0.2.1')!), '::ffff:c000:201');
  });

  it('unmapIPv4 only unmaps a valid dotted tail; parseAddress unmaps, parseAddressAsWritten does not', () => {
    assert.equal(unmapIPv4('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(unmapIPv4('::ffff:192.0.2'), '::ffff:192.0.2');
    assert.equal(unmapIPv4('2001:db8::1'), '2001:db8::1');
    assert.deepEqual(parseAddress('::ffff:192.0.2.1'), { family: 4, value: 0xc0000201n });
    assert.deepEqual(parseAddressAsWritten('::ffff:192.0.2.1'), { family: 6, value: 0xffffc0000201n });
  });

  it('nonGlobalReason judges an IPv4-mapped address by its IPv4 address, and isLocatable agrees', () => {
    assert.equal(nonGlobalReason(parseIPv6('::ffff:10.1.2.3')!), 'private-use 10.0.0.0/8 (RFC 1918)');
    assert.equal(nonGlobalV4Reason(0x64400001), 'shared address space 100.64.0.0/10 (RFC 6598)');
    assert.equal(isLocatable(parseIPOctets('81.2.69.142')!), true);
    assert.equal(isLocatable(parseIPOctets('fe80::1')!), false);
  });
});
