/** Address helpers: validation, IPv4-mapped normalisation, network text. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIPv6, networkOf, nonGlobalReason, normaliseAddress, parseIPv6 } from '../../src/geoip/address.js';

describe('normaliseAddress', () => {
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
      const n = normaliseAddress(input);
      assert.deepEqual(n === null ? [null, null] : [n.address, n.family], [address, family], input);
    }
    assert.equal(normaliseAddress(42 as unknown as string), null);
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
    for (const [ip, why] of table) assert.equal(nonGlobalReason(normaliseAddress(ip)!), why, ip);
  });
});
