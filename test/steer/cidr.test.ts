/** CIDR helpers: parsing, containment, truncation, IPv4-mapped normalisation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cidrContains, clientNetworkPrefix, commonPrefixLength, coversNetwork, parseCidr, truncateAddress } from '../../src/steer/cidr.js';
import { formatAddress } from '../../src/net/ip-format.js';
import { parseAddress } from '../../src/net/ip-parse.js';

describe('parseCidr', () => {
  const good: Array<[string, 4 | 6, number, string]> = [
    ['81.2.0.0/16', 4, 16, '81.2.0.0/16'],
    ['0.0.0.0/0', 4, 0, '0.0.0.0/0'],
    ['192.0.2.1/32', 4, 32, '192.0.2.1/32'],
    ['2001:db8::/32', 6, 32, '2001:db8::/32'],
    ['2001:DB8:0:0::/64', 6, 64, '2001:db8::/64'],
    ['::/0', 6, 0, '::/0'],
    ['2001:db8::1/128', 6, 128, '2001:db8::1/128'],
    ['::ffff:81.2.0.0/112', 4, 16, '81.2.0.0/16'],
  ];
  for (const [text, family, prefix, canonical] of good) {
    it(`parses ${text}`, () => {
      const c = parseCidr(text);
      assert.equal(c.family, family);
      assert.equal(c.prefix, prefix);
      assert.equal(c.text, canonical);
    });
  }

  const bad: Array<[string, RegExp]> = [
    ['81.2.3.0/16', /host bits set beyond the \/16 prefix; did you mean 81\.2\.0\.0\/16\?/],
    ['2001:db8::1/32', /host bits set .*did you mean 2001:db8::\/32/],
    ['81.2.0.0', /expected address\/prefix-length/],
    ['81.2.0.0/33', /from 0 to 32/],
    ['2001:db8::/129', /from 0 to 128/],
    ['81.2.0.0/', /prefix length/],
    ['81.2.0.0/1a', /prefix length/],
    ['81.2.0/16', /not an IPv4 or IPv6 address/],
    ['fe80::%eth0/64', /not an IPv4 or IPv6 address/],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${text}`, () => assert.throws(() => parseCidr(text), message));
  }
});

describe('addresses', () => {
  it('parses and formats both families, normalising mapped IPv4', () => {
    const cases: Array<[string, string | null]> = [
      ['81.2.69.142', '81.2.69.142'],
      ['::ffff:81.2.69.142', '81.2.69.142'],
      ['::FFFF:5102:458e', '81.2.69.142'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['nonsense', null],
      ['1.2.3', null],
      ['01.2.3.4', null],
    ];
    for (const [text, expected] of cases) {
      const a = parseAddress(text);
      assert.equal(a === null ? null : formatAddress(a), expected, text);
    }
  });

  it('tests containment', () => {
    const v4 = parseCidr('81.2.0.0/16');
    const v6 = parseCidr('2001:db8::/32');
    assert.equal(cidrContains(v4, '81.2.69.142'), true);
    assert.equal(cidrContains(v4, '81.3.0.0'), false);
    assert.equal(cidrContains(v4, '::ffff:81.2.1.1'), true);
    assert.equal(cidrContains(v4, '2001:db8::1'), false);
    assert.equal(cidrContains(v6, '2001:db8:ffff::1'), true);
    assert.equal(cidrContains(v6, '2001:db9::1'), false);
    assert.equal(cidrContains(v6, 'garbage'), false);
    assert.equal(cidrContains(parseCidr('0.0.0.0/0'), '255.255.255.255'), true);
  });

  it('covers a network only when the block is no longer than the source prefix (RFC 7871 §6 padding)', () => {
    const a = parseAddress('81.2.69.0')!;
    assert.equal(coversNetwork(parseCidr('81.2.0.0/16'), a, 24), true);
    assert.equal(coversNetwork(parseCidr('81.2.69.0/24'), a, 24), true);
    assert.equal(coversNetwork(parseCidr('81.2.69.0/25'), a, 24), false);
  });

  it('counts common leading bits', () => {
    assert.equal(commonPrefixLength(parseAddress('8.8.8.8')!, parseCidr('81.2.0.0/16')), 1);
    assert.equal(commonPrefixLength(parseAddress('81.2.69.142')!, parseCidr('81.2.69.142/32')), 32);
    assert.equal(commonPrefixLength(parseAddress('81.3.0.0')!, parseCidr('81.2.0.0/16')), 15);
    assert.equal(commonPrefixLength(parseAddress('2001:db8::')!, parseCidr('2001:db9::/32')), 31);
    assert.equal(commonPrefixLength(parseAddress('::1')!, parseCidr('81.2.0.0/16')), 0);
  });

  it('truncates to a network address', () => {
    const cases: Array<[string, number, string]> = [
      ['81.2.69.142', 24, '81.2.69.0'],
      ['81.2.69.142', 0, '0.0.0.0'],
      ['81.2.69.142', 32, '81.2.69.142'],
      ['81.2.69.142', 40, '81.2.69.142'],
      ['::ffff:81.2.69.142', 16, '81.2.0.0'],
      ['2001:db8:1234:5678::1', 56, '2001:db8:1234:5600::'],
      ['2001:db8:1234:5678::1', 128, '2001:db8:1234:5678::1'],
    ];
    for (const [address, prefix, expected] of cases) assert.equal(truncateAddress(address, prefix), expected, `${address}/${prefix}`);
    assert.throws(() => truncateAddress('nope', 24), /not an IPv4 or IPv6 address/);
  });

  it('takes /24 and /56 as the client network, never past the source prefix', () => {
    assert.equal(clientNetworkPrefix(4, 32), 24);
    assert.equal(clientNetworkPrefix(4, 20), 20);
    assert.equal(clientNetworkPrefix(6, 128), 56);
    assert.equal(clientNetworkPrefix(6, 48), 48);
  });
});
