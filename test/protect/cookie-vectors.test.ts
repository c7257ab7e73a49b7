/**
 * SipHash-2-4 against the reference vectors of its paper (key 00..0f, message 00..n-1), and
 * RFC 9018 server cookies against the worked examples of its Appendix A: made, checked, renewed,
 * and checked under the previous secret after a rollover.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sipHash24 } from '../../src/protect/siphash.js';
import { cookieLengthIsValid, CookieVerdict, parseSecret, ServerCookies } from '../../src/protect/cookies.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const v4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
// 2001:db8:220:1:59de:d0f4:8769:82b8
const A4_ADDRESS = hex('20010db80220000159ded0f4876982b8');
const SECRET_A = 'e5e973e5a6b2a43f48e7dc849e37bfcf';
const SECRET_A4_OLD = 'dd3bdf9344b678b185a6f5cb60fca715';
const SECRET_A4_NEW = '445536bcd2513298075a5d379663c962';

function jar(secret: string, now: number, previous: string | null = null): ServerCookies {
  return new ServerCookies({ secret: parseSecret(secret), previous: previous === null ? null : parseSecret(previous) }, () => now);
}

describe('SipHash-2-4', () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  for (const [n, want] of [
    [0, '310e0edd47db6f72'],
    [1, 'fd67dc93c539f874'],
    [7, '37d1018bf50002ab'],
    [8, '6224939a79f5f593'],
    [15, 'e545be4961ca29a1'],
    [63, '724506eb4c328a95'],
  ] as const) {
    it(`the paper's vector for a ${n}-octet message`, () => {
      const out = Buffer.alloc(8);
      sipHash24(
        key,
        Uint8Array.from({ length: n }, (_, i) => i),
        n,
        out,
        0,
      );
      assert.equal(out.toString('hex'), want);
    });
  }
});

describe('RFC 9018 server cookies (Appendix A)', () => {
  it('A.1: a client cookie alone gets a new server cookie', () => {
    const c = jar(SECRET_A, 1559731985);
    assert.equal(c.checkOption(hex('2464c4abcf10c957'), v4('198.51.100.100')), CookieVerdict.CLIENT_ONLY);
    assert.equal(c.response.toString('hex'), '2464c4abcf10c957010000005cf79f111f8130c3eee29480');
  });

  it('A.2: a valid cookie older than half an hour is renewed', () => {
    const c = jar(SECRET_A, 1559734385);
    assert.equal(c.checkOption(hex('2464c4abcf10c957010000005cf79f111f8130c3eee29480'), v4('198.51.100.100')), CookieVerdict.VALID);
    assert.equal(c.response.toString('hex'), '2464c4abcf10c957010000005cf7a871d4a564a1442aca77');
  });

  it('A.2: a valid cookie younger than half an hour is echoed', () => {
    const c = jar(SECRET_A, 1559731985 + 1799);
    assert.equal(c.checkOption(hex('2464c4abcf10c957010000005cf79f111f8130c3eee29480'), v4('198.51.100.100')), CookieVerdict.VALID);
    assert.equal(c.response.toString('hex'), '2464c4abcf10c957010000005cf79f111f8130c3eee29480');
  });

  it('A.3: a cookie past its hour gets a fresh one; within it, reserved octets the client set are part of the hash', () => {
    const query = hex('fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5');
    const c = jar(SECRET_A, 1559734700);
    assert.equal(c.checkOption(query, v4('203.0.113.203')), CookieVerdict.INVALID);
    assert.equal(c.response.toString('hex'), 'fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e');
    assert.equal(jar(SECRET_A, 1559727985 + 60).checkOption(query, v4('203.0.113.203')), CookieVerdict.VALID);
    const zeroed = Buffer.from(query);
    zeroed.fill(0, 9, 12);
    assert.equal(jar(SECRET_A, 1559727985 + 60).checkOption(zeroed, v4('203.0.113.203')), CookieVerdict.INVALID);
  });

  it('A.4: after a rollover the previous secret still validates, and the answer uses the new one', () => {
    const query = hex('22681ab97d52c298010000005cf7c57926556bd0934c72f8');
    const c = jar(SECRET_A4_NEW, 1559741961, SECRET_A4_OLD);
    assert.equal(c.checkOption(query, A4_ADDRESS), CookieVerdict.VALID);
    assert.equal(c.response.toString('hex'), '22681ab97d52c298010000005cf7c609a6bb79d16625507a');
    // Without the previous secret the old cookie is not ours: a fresh one, and the query is not exempt.
    assert.equal(jar(SECRET_A4_NEW, 1559741961).checkOption(query, A4_ADDRESS), CookieVerdict.INVALID);
  });

  it('rejects a cookie made for another address, one over an hour old, one from the future, and another version', () => {
    const good = hex('2464c4abcf10c957010000005cf79f111f8130c3eee29480');
    const at = 1559731985;
    assert.equal(jar(SECRET_A, at).checkOption(good, v4('198.51.100.101')), CookieVerdict.INVALID);
    assert.equal(jar(SECRET_A, at + 3600).checkOption(good, v4('198.51.100.100')), CookieVerdict.VALID);
    assert.equal(jar(SECRET_A, at + 3601).checkOption(good, v4('198.51.100.100')), CookieVerdict.INVALID);
    assert.equal(jar(SECRET_A, at - 300).checkOption(good, v4('198.51.100.100')), CookieVerdict.VALID);
    assert.equal(jar(SECRET_A, at - 301).checkOption(good, v4('198.51.100.100')), CookieVerdict.INVALID);
    const v2 = Buffer.from(good);
    v2[8] = 2;
    assert.equal(jar(SECRET_A, at).checkOption(v2, v4('198.51.100.100')), CookieVerdict.INVALID);
    assert.equal(jar(SECRET_A, at).checkOption(good.subarray(0, 16), v4('198.51.100.100')), CookieVerdict.INVALID);
  });

  it('accepts the option lengths RFC 7873 §5.2.2 allows, and only those', () => {
    const ok = [8, 16, 24, 32, 40];
    for (let n = 0; n <= 48; n++) assert.equal(cookieLengthIsValid(n), ok.includes(n) || (n > 16 && n < 40), `length ${n}`);
  });
});
