/** RFC 7871 option parsing, table-driven. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientSubnetOptionLength, parseClientSubnet, readClientSubnet, writeClientSubnetOption } from '../../src/dns/client-subnet.js';
import { isLocatable } from '../../src/net/ip-class.js';

const opt = (family: number, source: number, scope: number, bytes: number[]): Buffer => Buffer.from([family >> 8, family & 255, source, scope, ...bytes]);

describe('parseClientSubnet', () => {
  const good: Array<[string, Buffer, string, number, boolean]> = [
    ['IPv4 /24', opt(1, 24, 0, [81, 2, 69]), '81.2.69.0', 24, true],
    ['IPv4 /32', opt(1, 32, 0, [81, 2, 69, 142]), '81.2.69.142', 32, true],
    ['IPv4 /0 opts out', opt(1, 0, 0, []), '0.0.0.0', 0, false],
    ['IPv4 /20 keeps 3 octets', opt(1, 20, 0, [81, 2, 64]), '81.2.64.0', 20, true],
    ['private 10/8 is not usable', opt(1, 24, 0, [10, 1, 2]), '10.1.2.0', 24, false],
    ['private 192.168/16', opt(1, 24, 0, [192, 168, 1]), '192.168.1.0', 24, false],
    ['IPv6 /56', opt(2, 56, 0, [0x20, 0x01, 0x02, 0x18, 0, 0, 0]), '2001:218::', 56, true],
    ['IPv6 ULA', opt(2, 48, 0, [0xfd, 0, 0, 0, 0, 0]), 'fd00::', 48, false],
    ['IPv6 link-local', opt(2, 64, 0, [0xfe, 0x80, 0, 0, 0, 0, 0, 0]), 'fe80::', 64, false],
  ];
  for (const [title, data, address, prefix, usable] of good) {
    it(`reads ${title}`, () => {
      const r = parseClientSubnet(data);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.value.address, address);
      assert.equal(r.value.sourcePrefix, prefix);
      assert.equal(r.value.usable, usable);
    });
  }

  const bad: Array<[string, Buffer, RegExp]> = [
    ['unknown family', opt(3, 24, 0, [1, 2, 3]), /family/],
    ['IPv4 prefix too long', opt(1, 33, 0, [1, 2, 3, 4, 5]), /longer/],
    ['IPv6 prefix too long', opt(2, 129, 0, new Array(17).fill(0)), /longer/],
    ['scope set in a query', opt(1, 24, 24, [81, 2, 69]), /scope/],
    ['address longer than the prefix needs', opt(1, 24, 0, [81, 2, 69, 0]), /length/],
    ['address shorter than the prefix needs', opt(1, 24, 0, [81, 2]), /length/],
    ['bits set beyond the prefix', opt(1, 20, 0, [81, 2, 69]), /beyond/],
    ['too short to hold the header', Buffer.from([0, 1, 24]), /shorter/],
  ];
  for (const [title, data, reason] of bad) {
    it(`rejects ${title}`, () => {
      const r = parseClientSubnet(data);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, reason);
    });
  }

  it('reads the option where it sits in a packet, and echoes its ADDRESS octets as received', () => {
    const cases: Array<[number, number, number[], number, string]> = [
      [1, 24, [81, 2, 69], 0x51024500, '81.2.69.0'],
      [1, 32, [81, 2, 69, 142], 0x5102458e, '81.2.69.142'],
      [1, 20, [81, 2, 64], 0x51024000, '81.2.64.0'],
      [1, 0, [], 0, '0.0.0.0'],
      [2, 56, [0x20, 0x01, 0x02, 0x18, 0, 0, 0], 0, '2001:218::'],
    ];
    for (const [family, source, bytes, v4, address] of cases) {
      const option = opt(family, source, 0, bytes);
      // Framed by other octets, as in a query: the reader must keep to `at` and `length`.
      const packet = Buffer.concat([Buffer.from([0xee, 0xee, 0xee]), option, Buffer.from([0xee, 0xee])]);
      const read = readClientSubnet(packet, 3, option.length);
      assert.notEqual(typeof read, 'string', `${family}/${source}`);
      if (typeof read === 'string') continue;
      const parsed = parseClientSubnet(option);
      assert.ok(parsed.ok);
      assert.equal(read.address, address);
      assert.equal(parsed.value.address, address);
      assert.equal(read.usable, parsed.value.usable);
      assert.equal(read.v4, v4);
      const out = Buffer.alloc(clientSubnetOptionLength(read) + 2, 0xaa);
      assert.equal(writeClientSubnetOption(out, 1, read, 17), 1 + clientSubnetOptionLength(read));
      // OPTION-CODE 8, OPTION-LENGTH, then the query's option with SCOPE PREFIX-LENGTH set (RFC 7871 §7.2.1); nothing written past it.
      const expected = Buffer.from([0xaa, 0, 8, 0, option.length, ...option, 0xaa]);
      expected[1 + 4 + 3] = 17;
      assert.deepEqual(out, expected, `${family}/${source}`);
    }
    assert.match(readClientSubnet(Buffer.from([0, 1, 24, 0, 81, 2, 69]), 0, 6) as string, /length/, 'the length given, not the buffer, bounds it');
  });

  it('treats IPv4-mapped IPv6 by its IPv4 address', () => {
    const mapped = Buffer.alloc(16);
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped.set([10, 0, 0, 1], 12);
    assert.equal(isLocatable(mapped), false);
    mapped.set([81, 2, 69, 142], 12);
    assert.equal(isLocatable(mapped), true);
  });
});
