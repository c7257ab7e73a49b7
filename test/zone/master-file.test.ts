/** Master-file parser: directives, inheritance, lexical rules, $INCLUDE and error reporting. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RRClass, RRType } from '../../src/dns/constants.js';
import { nameToText, parseName } from '../../src/dns/name.js';
import { parseMasterFile, type ParseOptions, type ParseResult } from '../../src/zone/master-file.js';
import { rdataToText } from '../../src/zone/rdata/index.js';

const ORIGIN = parseName('example.com.', null);

function parse(text: string, opts: Partial<ParseOptions> = {}): ParseResult {
  return parseMasterFile(text, { file: 'example.com.zone', origin: ORIGIN, ...opts });
}

/** Records as "line owner ttl class type rdata" lines, for compact assertions. */
function show(result: ParseResult): string[] {
  return result.records.map((r) => `${r.source.line} ${nameToText(r.owner)} ${r.ttl} ${r.class === RRClass.CH ? 'CH' : 'IN'} ${r.type} ${rdataToText(r.type, r.rdata)}`);
}

function problems(result: ParseResult): string[] {
  return result.problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
}

function clean(text: string, opts: Partial<ParseOptions> = {}): string[] {
  const result = parse(text, opts);
  assert.deepEqual(problems(result), []);
  return show(result);
}

describe('master file: owners and directives', () => {
  it('reads @, relative, absolute and blank owners, keeping case', () => {
    const lines = clean(
      [
        '$TTL 300',
        '@       IN SOA ns1 hostmaster 1 7200 3600 1209600 60',
        '        IN NS  ns1',
        'WwW     IN A   192.0.2.1',
        '        IN AAAA 2001:db8::1',
        'Mail.Example.COM. IN A 192.0.2.2',
        'a\\.b   IN A   192.0.2.3',
        '\\065bc IN A   192.0.2.4',
      ].join('\n'),
    );
    assert.deepEqual(lines, [
      '2 example.com. 300 IN 6 ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 60',
      '3 example.com. 300 IN 2 ns1.example.com.',
      '4 WwW.example.com. 300 IN 1 192.0.2.1',
      '5 WwW.example.com. 300 IN 28 2001:db8::1',
      '6 Mail.Example.COM. 300 IN 1 192.0.2.2',
      '7 a\\.b.example.com. 300 IN 1 192.0.2.3',
      '8 Abc.example.com. 300 IN 1 192.0.2.4',
    ]);
  });

  it('applies $ORIGIN, relative to the current origin when not absolute', () => {
    const lines = clean(['$ORIGIN sub', 'www A 192.0.2.1', '$ORIGIN example.com.', 'www CNAME www.sub', '$origin deep.sub.example.com.', '@ MX 10 mx'].join('\n'));
    assert.deepEqual(lines, ['2 www.sub.example.com. 3600 IN 1 192.0.2.1', '4 www.example.com. 3600 IN 5 www.sub.example.com.', '6 deep.sub.example.com. 3600 IN 15 10 mx.deep.sub.example.com.']);
  });

  it('accepts $TTL in seconds and BIND units', () => {
    const ttls = (value: string) => parse(`$TTL ${value}\nwww A 192.0.2.1`).records[0]!.ttl;
    assert.equal(ttls('86400'), 86400);
    assert.equal(ttls('1h30m'), 5400);
    assert.equal(ttls('1d'), 86400);
    assert.equal(ttls('2w'), 1209600);
    assert.equal(ttls('1W2D3H4M5S'), 788645);
    assert.equal(ttls('0'), 0);
  });

  it('rejects $GENERATE and unknown directives', () => {
    const result = parse('$GENERATE 1-10 host$ A 192.0.2.$\n$FOO bar\nwww A 192.0.2.1');
    assert.deepEqual(problems(result), ['example.com.zone:1: $GENERATE is not supported; write the records out', 'example.com.zone:2: unknown directive "$FOO"']);
    assert.equal(result.records.length, 1);
  });
});

describe('master file: TTL and class', () => {
  it('takes TTL and class in either order, both optional', () => {
    const lines = clean(['$TTL 300', 'a 60 IN A 192.0.2.1', 'b IN 60 A 192.0.2.2', 'c IN A 192.0.2.3', 'd 1h A 192.0.2.4', 'e A 192.0.2.5'].join('\n'));
    assert.deepEqual(
      lines.map((l) => l.split(' ').slice(0, 3).join(' ')),
      ['2 a.example.com. 60', '3 b.example.com. 60', '4 c.example.com. 300', '5 d.example.com. 3600', '6 e.example.com. 300'],
    );
  });

  it('uses the last explicit TTL without $TTL (RFC 1035), the SOA minimum before that, then the default', () => {
    const lines = clean(
      [
        '@ IN SOA ns1 hostmaster 1 7200 3600 1209600 120',
        'a IN A 192.0.2.1',
        'b 60 IN A 192.0.2.2',
        'c IN A 192.0.2.3',
        '$TTL 900',
        'd IN A 192.0.2.4',
        'e 30 IN A 192.0.2.5',
        'f IN A 192.0.2.6',
      ].join('\n'),
    );
    assert.deepEqual(
      lines.map((l) => l.split(' ')[2]),
      ['120', '120', '60', '60', '900', '30', '900'],
    );
    assert.deepEqual(
      clean('www A 192.0.2.1', { defaultTtl: 42 }).map((l) => l.split(' ')[2]),
      ['42'],
    );
    assert.deepEqual(
      clean('www A 192.0.2.1').map((l) => l.split(' ')[2]),
      ['3600'],
    );
  });

  it('inherits the class, accepts CH, rejects other classes', () => {
    assert.deepEqual(clean('version CH TXT "1.0"\nhostname TXT "ns1"'), ['1 version.example.com. 3600 CH 16 "1.0"', '2 hostname.example.com. 3600 CH 16 "ns1"']);
    assert.deepEqual(problems(parse('www HS A 192.0.2.1')), ['example.com.zone:1: class HS is not supported (only IN and CH)']);
  });

  it('does not mistake names, numbers or mnemonics in owner position', () => {
    assert.deepEqual(
      clean('A A 192.0.2.1\nIN IN A 192.0.2.2\n300 300 IN PTR host\nMX MX 10 A').map((l) => l.split(' ').slice(1, 5).join(' ')),
      ['A.example.com. 3600 IN 1', 'IN.example.com. 3600 IN 1', '300.example.com. 300 IN 12', 'MX.example.com. 300 IN 15'],
    );
  });
});

describe('master file: lexical rules', () => {
  it('joins lines inside parentheses, skips comments, records the starting line', () => {
    const lines = clean(
      [
        '; a comment line',
        '',
        '@ 3600 IN SOA ns1.example.com. hostmaster.example.com. ( ; opening',
        '        2026010101 ; serial',
        '        7200       ; refresh',
        '        3600 1209600',
        '        300 )      ; minimum',
        'www IN A 192.0.2.1 ; trailing comment',
        'txt IN TXT ( "one"',
        '  "two" )',
      ].join('\n'),
    );
    assert.deepEqual(lines, [
      '3 example.com. 3600 IN 6 ns1.example.com. hostmaster.example.com. 2026010101 7200 3600 1209600 300',
      '8 www.example.com. 3600 IN 1 192.0.2.1',
      '9 txt.example.com. 3600 IN 16 "one" "two"',
    ]);
  });

  it('reads CRLF files', () => {
    const lines = clean('$TTL 60\r\nwww IN A 192.0.2.1\r\n    IN TXT "x y" ; c\r\n\r\nmx IN MX ( 10\r\n mail )\r\n');
    assert.deepEqual(lines, ['2 www.example.com. 60 IN 1 192.0.2.1', '3 www.example.com. 60 IN 16 "x y"', '5 mx.example.com. 60 IN 15 10 mail.example.com.']);
  });

  it('keeps ; and parentheses inside quotes, decodes \\" \\\\ and \\DDD', () => {
    const lines = clean(['a TXT "semi ; colon (paren)" unquoted\\032word', 'b TXT "say \\"hi\\" \\\\ back" "\\065\\066\\067"', 'c TXT "" "\\255\\000"'].join('\n'));
    assert.deepEqual(
      lines.map((l) => l.slice(l.indexOf(' 16 ') + 4)),
      ['"semi ; colon (paren)" "unquoted word"', '"say \\"hi\\" \\\\ back" "ABC"', '"" "\\255\\000"'],
    );
  });

  it('keeps a 300-octet TXT given as two strings', () => {
    const a = 'x'.repeat(255),
      b = 'y'.repeat(45);
    const result = parse(`long TXT "${a}" "${b}"`);
    assert.deepEqual(problems(result), []);
    const rdata = result.records[0]!.rdata;
    assert.equal(rdata.length, 302);
    assert.equal(rdataToText(RRType.TXT, rdata), `"${a}" "${b}"`);
    assert.deepEqual(problems(parse(`long TXT "${a}${b}"`)), ['example.com.zone:1: TXT: string longer than 255 octets (300); split it into several quoted strings']);
  });

  it('reads RFC 3597 unknown types', () => {
    const result = parse('unknown IN TYPE65280 \\# 4 0a000001\nempty TYPE65281 \\# 0\nknown TYPE1 \\# 4 C0000201');
    assert.deepEqual(problems(result), []);
    assert.deepEqual(
      result.records.map((r) => [r.type, r.rdata.toString('hex')]),
      [
        [65280, '0a000001'],
        [65281, ''],
        [1, 'c0000201'],
      ],
    );
  });

  it('reads the remaining types', () => {
    const lines = clean(
      [
        '_sip._udp SRV 0 5 5060 sip',
        '@ CAA 0 issue "letsencrypt.org"',
        '@ NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp',
        'sub DS 12345 13 2 ( 3c5b8a1f2e4d6c7b9a0f1e2d3c4b5a69',
        '                    788796a5b4c3d2e1f0a9b8c7d6e5f4a3 )',
        'www HTTPS 1 . alpn="h2,h3" ipv4hint=192.0.2.1',
        'host HINFO "PC" "Linux"',
        'old SPF "v=spf1 -all"',
        '_443._tcp TLSA 3 1 1 aabbcc',
        'server SSHFP 4 2 abcdef',
        'dname DNAME other.net.',
        '_u URI 10 1 "https://example.com/"',
      ].join('\n'),
    );
    assert.deepEqual(
      lines.map((l) => l.slice(l.indexOf(' ', l.indexOf(' IN ') + 4) + 1)),
      [
        '0 5 5060 sip.example.com.',
        '0 issue "letsencrypt.org"',
        '100 10 "S" "SIP+D2U" "" _sip._udp.example.com.',
        '12345 13 2 3C5B8A1F2E4D6C7B9A0F1E2D3C4B5A69788796A5B4C3D2E1F0A9B8C7D6E5F4A3',
        '1 . alpn="h2,h3" ipv4hint=192.0.2.1',
        '"PC" "Linux"',
        '"v=spf1 -all"',
        '3 1 1 AABBCC',
        '4 2 ABCDEF',
        'other.net.',
        '10 1 "https://example.com/"',
      ],
    );
  });
});

describe('master file: errors', () => {
  it('reports each bad record with its line and keeps going', () => {
    const text = [
      '$TTL', // 1
      '$TTL 1x', // 2
      'a IN MX abc mail', // 3
      'b IN FOO 1 2', // 4
      'c IN', // 5
      'd 99999999999 IN A 192.0.2.1', // 6
      'e IN A 192.0.2.300', // 7
      'f IN A 192.0.2.1', // 8: good
      'www.other.org. IN A 192.0.2.1', // 9
      '    IN A 192.0.2.2', // 10: same bad owner, not reported again
      'g IN TXT "open', // 11
      'h IN A 192.0.2.2', // 12: good
      'i IN TXT ( "x"', // 13
      '  ) )', // 14
      'j IN ANY \\# 0', // 15
      'k IN SOA ns1 hostmaster 1 2 3 4', // 16
      'l IN CNAME a..b', // 17
      'm IN TXT "x" ( "y"', // 18: never closed
      'n IN A 192.0.2.3',
    ].join('\n');
    const result = parse(text);
    assert.deepEqual(problems(result), [
      'example.com.zone:1: $TTL needs a value',
      'example.com.zone:2: $TTL "1x" is not a number of seconds or a duration like 1h30m',
      'example.com.zone:3: MX: preference "abc" is not a number',
      'example.com.zone:4: unknown type "FOO"',
      'example.com.zone:5: missing type',
      'example.com.zone:6: TTL 99999999999 is above 2147483647 (RFC 2181 §8)',
      'example.com.zone:7: A: "192.0.2.300" is not an IPv4 address',
      'example.com.zone:9: owner www.other.org. is outside the zone example.com.',
      'example.com.zone:11: unterminated quoted string starting on line 11',
      'example.com.zone:13: ")" without a matching "("',
      'example.com.zone:15: type ANY is a query or meta type and cannot be in a zone',
      'example.com.zone:16: SOA: missing minimum',
      'example.com.zone:17: CNAME: target: empty label in name "a..b"',
      'example.com.zone:18: unbalanced parentheses: "(" opened on line 18 is never closed',
    ]);
    assert.deepEqual(
      result.records.map((r) => nameToText(r.owner)),
      ['f.example.com.', 'h.example.com.'],
    );
    assert.ok(result.problems.every((p) => p.severity === 'error'));
  });

  it('needs an owner for the first record', () => {
    assert.deepEqual(problems(parse('   IN A 192.0.2.1')), ['example.com.zone:1: the first record has no owner name (the line starts with blank space)']);
  });

  it('rejects owners above the apex reached through $ORIGIN', () => {
    assert.deepEqual(problems(parse('$ORIGIN com.\nexample IN A 192.0.2.1\nother IN A 192.0.2.1')), ['example.com.zone:3: owner other.com. is outside the zone example.com.']);
  });
});

describe('master file: $INCLUDE', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-include-'));
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'hosts.inc'), 'www IN A 192.0.2.10\n$INCLUDE more.inc\n');
    fs.writeFileSync(path.join(dir, 'sub', 'more.inc'), '$ORIGIN deeper\nx IN A 192.0.2.11\n');
    fs.writeFileSync(path.join(dir, 'bad.inc'), '\nok IN A 192.0.2.1\nbad IN A nope\n');
    fs.writeFileSync(path.join(dir, 'loop.inc'), '$INCLUDE loop.inc\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads files relative to the including file, with a local origin', () => {
    const file = path.join(dir, 'example.com.zone');
    const result = parseMasterFile(['$TTL 60', 'top IN A 192.0.2.1', '$INCLUDE sub/hosts.inc hosts', '    IN TXT "owner and origin are back"', 'after IN A 192.0.2.2'].join('\n'), {
      file,
      origin: ORIGIN,
    });
    assert.deepEqual(problems(result), []);
    assert.deepEqual(
      result.records.map((r) => `${path.relative(dir, r.source.file)}:${r.source.line} ${nameToText(r.owner)} ${r.ttl}`),
      [
        'example.com.zone:2 top.example.com. 60',
        'sub/hosts.inc:1 www.hosts.example.com. 60',
        'sub/more.inc:2 x.deeper.hosts.example.com. 60',
        'example.com.zone:4 top.example.com. 60',
        'example.com.zone:5 after.example.com. 60',
      ],
    );
  });

  it('reports problems with the included file and line', () => {
    const file = path.join(dir, 'example.com.zone');
    const result = parseMasterFile('$INCLUDE bad.inc\n$INCLUDE missing.inc\n', { file, origin: ORIGIN });
    assert.deepEqual(
      result.problems.map((p) => `${path.relative(dir, p.file)}:${p.line}: ${p.message.replace(dir + path.sep, '')}`),
      ['bad.inc:3: A: "nope" is not an IPv4 address', `example.com.zone:2: cannot read $INCLUDE file "missing.inc": ENOENT: no such file or directory, open '${path.join(dir, 'missing.inc')}'`],
    );
    assert.equal(result.records.length, 1);
  });

  it('stops include loops', () => {
    const file = path.join(dir, 'example.com.zone');
    const result = parseMasterFile('$INCLUDE loop.inc\n', { file, origin: ORIGIN, maxIncludeDepth: 3 });
    assert.deepEqual(
      problems(result).map((p) => p.replace(dir + path.sep, '')),
      ['loop.inc:1: $INCLUDE nested more than 3 deep (an include loop?)'],
    );
  });

  it('uses the readFile option', () => {
    const seen: string[] = [];
    const result = parse('$INCLUDE /virtual/a.inc\n$INCLUDE b.inc\n', {
      file: '/zones/example.com.zone',
      readFile: (p) => (seen.push(p), 'x IN A 192.0.2.1\n'),
    });
    assert.deepEqual(problems(result), []);
    assert.deepEqual(seen, ['/virtual/a.inc', '/zones/b.inc']);
    assert.equal(result.records.length, 2);
  });

  it('needs a file name', () => {
    assert.deepEqual(problems(parse('$INCLUDE\n')), ['example.com.zone:1: $INCLUDE needs a file name']);
  });
});
