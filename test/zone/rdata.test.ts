/** RDATA codec: presentation -> wire -> presentation for every supported type, and errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RRType } from '../../src/dns/constants.js';
import { parseName } from '../../src/dns/name.js';
import { RdataError, encodeRdata, encodeRdataText, rdataToText } from '../../src/zone/rdata/index.js';

const origin = parseName('example.com.', null);

/** [type, presentation input, canonical text, optional wire hex] */
const ROUND_TRIPS: Array<[number, string, string, string?]> = [
  [RRType.A, '192.0.2.1', '192.0.2.1', 'c0000201'],
  [RRType.AAAA, '2001:DB8:0:0:0:0:0:1', '2001:db8::1', '20010db8000000000000000000000001'],
  [RRType.AAAA, '::ffff:192.0.2.1', '::ffff:192.0.2.1'],
  [RRType.AAAA, '::', '::'],
  [RRType.AAAA, '1:0:0:2:0:0:0:3', '1:0:0:2::3'],
  [RRType.NS, 'ns1', 'ns1.example.com.', '036e7331076578616d706c6503636f6d00'],
  [RRType.CNAME, 'WwW.Example.ORG.', 'WwW.Example.ORG.'],
  [RRType.PTR, '@', 'example.com.'],
  [RRType.DNAME, 'other.net.', 'other.net.'],
  [RRType.MX, '10 mail', '10 mail.example.com.'],
  [RRType.MX, '0 .', '0 .', '000000'],
  [RRType.KX, '5 kx', '5 kx.example.com.'],
  [RRType.RP, 'john\\.doe.example.com. .', 'john\\.doe.example.com. .'],
  [RRType.TXT, '"hello world"', '"hello world"', '0b68656c6c6f20776f726c64'],
  [RRType.TXT, 'unquoted two', '"unquoted" "two"'],
  [RRType.TXT, '""', '""', '00'],
  [RRType.TXT, '"a\\"b\\\\c"', '"a\\"b\\\\c"', '056122625c63'],
  [RRType.TXT, '"tab\\009nl\\010\\255"', '"tab\\009nl\\010\\255"'],
  [RRType.TXT, '"caf\u00e9"', '"caf\\195\\169"', '05636166c3a9'],
  [RRType.SPF, '"v=spf1 -all"', '"v=spf1 -all"'],
  [RRType.HINFO, '"PC" "Linux 6"', '"PC" "Linux 6"'],
  [RRType.SOA, 'ns1 hostmaster 2026010101 1h 15m 2w 1d', 'ns1.example.com. hostmaster.example.com. 2026010101 3600 900 1209600 86400'],
  [RRType.SRV, '0 5 5060 sip', '0 5 5060 sip.example.com.'],
  [RRType.CAA, '0 issue "letsencrypt.org"', '0 issue "letsencrypt.org"', '00056973737565' + '6c657473656e63727970742e6f7267'],
  [RRType.CAA, '128 iodef "mailto:a@example.com"', '128 iodef "mailto:a@example.com"'],
  [RRType.CAA, '0 issue ""', '0 issue ""'],
  [RRType.NAPTR, '100 10 "S" "SIP+D2U" "" _sip._udp', '100 10 "S" "SIP+D2U" "" _sip._udp.example.com.'],
  [RRType.NAPTR, '100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .', '100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .'],
  [RRType.DS, '12345 13 2 3c5b8a1f2e4d6c7b 9a0f1e2d3c4b5a69 788796a5b4c3d2e1 f0a9b8c7d6e5f4a3', '12345 13 2 3C5B8A1F2E4D6C7B9A0F1E2D3C4B5A69788796A5B4C3D2E1F0A9B8C7D6E5F4A3'],
  [RRType.CDS, '0 0 0 00', '0 0 0 00', '0000000000'],
  [RRType.DS, '1 ECDSAP256SHA256 1 abcd', '1 13 1 ABCD'],
  [RRType.SSHFP, '4 2 123456789abcdef6', '4 2 123456789ABCDEF6'],
  [RRType.TLSA, '3 1 1 8cb0fc6c5275 06a053f4', '3 1 1 8CB0FC6C527506A053F4'],
  [RRType.SMIMEA, '3 0 0 aabb', '3 0 0 AABB'],
  [
    RRType.DNSKEY,
    '257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0d xCjjnopKl+GqJxpVXckHAeF+KkxLbxIL fDLUT0rAK9iUzy1L53eKGQ==',
    '257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==',
  ],
  [RRType.CDNSKEY, '0 3 0 AA==', '0 3 0 AA=='],
  [RRType.OPENPGPKEY, 'AQID BA==', 'AQIDBA=='],
  [RRType.URI, '10 1 "https://www.example.com/path"', '10 1 "https://www.example.com/path"'],
  [RRType.HTTPS, '0 svc.example.net.', '0 svc.example.net.'],
  [RRType.HTTPS, '1 . alpn="h2,h3"', '1 . alpn="h2,h3"', '00010000010006026832026833'],
  [
    RRType.HTTPS,
    '1 . alpn=h3 port=8443 ipv4hint=192.0.2.1,192.0.2.2 ech=AQID ipv6hint=2001:db8::1 mandatory=port,alpn',
    '1 . mandatory=alpn,port alpn="h3" port=8443 ipv4hint=192.0.2.1,192.0.2.2 ech=AQID ipv6hint=2001:db8::1',
  ],
  [RRType.SVCB, '16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"', '16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"'],
  [RRType.SVCB, '1 foo key667="hello\\210qoo"', '1 foo.example.com. key667="hello\\210qoo"'],
  [RRType.SVCB, '1 foo key65333', '1 foo.example.com. key65333'],
  [RRType.SVCB, '1 . alpn=h2 no-default-alpn', '1 . alpn="h2" no-default-alpn'],
  [RRType.SVCB, '1 . key3=53', '1 . port=53'],
  [RRType.SVCB, '1 . dohpath="/dns-query{?dns}" ohttp', '1 . dohpath="/dns-query{?dns}" ohttp'],
  [65280, '\\# 4 0a000001', '\\# 4 0A000001', '0a000001'],
  [65280, '\\# 0', '\\# 0', ''],
  [65280, '\\# 3 0a 00 01', '\\# 3 0A0001'],
  [RRType.A, '\\# 4 c0000201', '192.0.2.1', 'c0000201'],
];

describe('rdata round trip', () => {
  for (const [type, input, text, hex] of ROUND_TRIPS) {
    it(`${type} ${input}`, () => {
      const wire = encodeRdataText(type, input, origin);
      if (hex !== undefined) assert.equal(wire.toString('hex'), hex);
      assert.equal(rdataToText(type, wire), text);
      // the printed form reads back to the same octets
      assert.deepEqual(encodeRdataText(type, text, null), wire);
    });
  }

  it('keeps SVCB parameters sorted by key on the wire', () => {
    const wire = encodeRdataText(RRType.HTTPS, '1 . port=443 alpn=h2', origin);
    assert.equal(wire.toString('hex'), '000100' + '0001000302' + '6832' + '00030002' + '01bb');
  });

  it('keeps a 300-octet TXT split in two strings', () => {
    const a = 'a'.repeat(200),
      b = 'b'.repeat(100);
    const wire = encodeRdataText(RRType.TXT, `"${a}" "${b}"`, origin);
    assert.equal(wire.length, 302);
    assert.equal(wire[0], 200);
    assert.equal(wire[201], 100);
    assert.equal(rdataToText(RRType.TXT, wire), `"${a}" "${b}"`);
  });

  it('prints malformed wire RDATA of a known type in RFC 3597 form', () => {
    assert.equal(rdataToText(RRType.A, Buffer.from([1, 2, 3])), '\\# 3 010203');
    assert.equal(rdataToText(RRType.MX, Buffer.from([0, 1, 0xc0, 0])), '\\# 4 0001C000');
    assert.equal(rdataToText(RRType.TXT, Buffer.alloc(0)), '\\# 0');
  });

  it('takes tokens directly', () => {
    const wire = encodeRdata(
      RRType.MX,
      [
        { text: '10', quoted: false },
        { text: 'mx', quoted: false },
      ],
      origin,
    );
    assert.equal(rdataToText(RRType.MX, wire), '10 mx.example.com.');
  });
});

describe('rdata errors', () => {
  const ERRORS: Array<[number, string, RegExp]> = [
    [RRType.A, '192.0.2', /A: "192.0.2" is not an IPv4 address/],
    [RRType.A, '', /A: missing address/],
    [RRType.A, '1.2.3.4 5.6.7.8', /A: unexpected "5.6.7.8" after the address/],
    [RRType.AAAA, 'fe80::1%eth0', /AAAA: "fe80::1%eth0" is not an IPv6 address/],
    [RRType.AAAA, '192.0.2.1', /is not an IPv6 address/],
    [RRType.MX, 'abc mail', /MX: preference "abc" is not a number/],
    [RRType.MX, '70000 mail', /MX: preference 70000 is above 65535/],
    [RRType.MX, '10', /MX: missing exchange/],
    [RRType.MX, '10 a..b', /MX: exchange: empty label/],
    [RRType.NS, 'b\u00fccher', /NS: name server "b\u00fccher" has a non-ASCII character/],
    [RRType.TXT, `"${'x'.repeat(256)}"`, /TXT: string longer than 255 octets \(256\); split it into several quoted strings/],
    [RRType.TXT, '', /TXT: missing text/],
    [RRType.TXT, '"bad \\1x"', /TXT: text: bad escape/],
    [RRType.TXT, '"\\300"', /above 255/],
    [RRType.SOA, 'ns1 hostmaster 1 2 3 4', /SOA: missing minimum/],
    [RRType.SOA, 'ns1 hostmaster 1h 2 3 4 5', /SOA: serial "1h" is not a number/],
    [RRType.SOA, 'ns1 hostmaster 1 2x 3 4 5', /SOA: refresh "2x" is not a number or a duration/],
    [RRType.CAA, '0 is-sue "x"', /CAA: tag "is-sue" must be letters and digits only/],
    [RRType.CAA, '0 issue "a" "b"', /CAA: unexpected "b"/],
    [RRType.DS, '1 13 2 abc', /DS: digest has an odd number of hex digits/],
    [RRType.DS, '1 13 2 xyz0', /DS: digest is not hexadecimal/],
    [RRType.DS, '1 FOO 2 ab', /DS: algorithm "FOO" is not a number or a known mnemonic/],
    [RRType.DNSKEY, '257 3 13 abc', /DNSKEY: public key is not valid base64/],
    [RRType.HTTPS, '0 . alpn=h2', /AliasMode \(priority 0\) takes no parameters/],
    [RRType.HTTPS, '1 . alpn=h2 alpn=h3', /parameter alpn appears twice/],
    [RRType.HTTPS, '1 . port=99999', /port "99999" is not a number/],
    [RRType.HTTPS, '1 . foo=bar', /unknown parameter "foo"/],
    [RRType.HTTPS, '1 . alpn', /alpn needs a value/],
    [RRType.HTTPS, '1 . mandatory=port', /mandatory lists port but it is not present/],
    [RRType.HTTPS, '1 . no-default-alpn', /no-default-alpn needs alpn/],
    [RRType.HTTPS, '1 . ipv4hint=1.2.3', /ipv4hint: "1.2.3" is not an IPv4 address/],
    [RRType.HTTPS, '1 . key65535=x', /unknown parameter "key65535"/],
    [65280, '\\# 4 0a0000', /TYPE65280: \\# length 4 does not match the 3 octets/],
    [65280, '\\#', /\\# needs a length/],
    [65280, '0a000001', /TYPE65280: no presentation form is known/],
    [RRType.A, '\\# 3 0a0000', /A: \\# data is not valid A RDATA/],
    [RRType.TXT, '"open', /unterminated quoted string/],
  ];
  for (const [type, input, message] of ERRORS) {
    it(`${type} ${input.slice(0, 40)}`, () => {
      assert.throws(
        () => encodeRdataText(type, input, origin),
        (err: unknown) => {
          assert.ok(err instanceof RdataError, `not an RdataError: ${String(err)}`);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it('needs an origin for relative names', () => {
    assert.throws(() => encodeRdataText(RRType.CNAME, 'www', null), /CNAME: target: relative name "www" but no \$ORIGIN/);
  });
});
