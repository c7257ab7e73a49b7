/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012), the pseudorandom function of RFC 9018 §4.4
 * server cookies. Each 64-bit word is two unsigned 32-bit halves held in local variables
 * (no BigInt, no allocation, no call per round): a cookie costs one hash per query.
 */

/** Little-endian 32-bit word of `b` at `at`, reading 0 at and past `end`. */
function le32(b: Uint8Array, at: number, end: number): number {
  if (at + 4 <= end) return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
  let w = 0;
  for (let i = 3; i >= 0; i--) w = (w << 8) | (at + i < end ? b[at + i]! : 0);
  return w >>> 0;
}

/**
 * SipHash-2-4 of `msg[0, length)` under the 16-octet `key`, written as 8 octets
 * little-endian (as the reference implementation does) into `out` at `at`.
 */
export function sipHash24(key: Uint8Array, msg: Uint8Array, length: number, out: Uint8Array, at: number): void {
  const k0l = le32(key, 0, 16);
  const k0h = le32(key, 4, 16);
  const k1l = le32(key, 8, 16);
  const k1h = le32(key, 12, 16);
  // "somepseudorandomlygeneratedbytes"
  let v0h = (k0h ^ 0x736f6d65) >>> 0;
  let v0l = (k0l ^ 0x70736575) >>> 0;
  let v1h = (k1h ^ 0x646f7261) >>> 0;
  let v1l = (k1l ^ 0x6e646f6d) >>> 0;
  let v2h = (k0h ^ 0x6c796765) >>> 0;
  let v2l = (k0l ^ 0x6e657261) >>> 0;
  let v3h = (k1h ^ 0x74656462) >>> 0;
  let v3l = (k1l ^ 0x79746573) >>> 0;
  const whole = length - (length % 8);
  // Each pass: c rounds of SipRound. Blocks take 2 (after the last one, which carries the
  // length in its top octet), then finalisation takes 4.
  for (let p = 0; p <= whole + 8; p += 8) {
    let ml = 0;
    let mh = 0;
    let rounds = 2;
    if (p <= whole) {
      ml = le32(msg, p, length);
      mh = le32(msg, p + 4, length);
      if (p === whole) mh = (mh | ((length & 0xff) << 24)) >>> 0;
      v3h = (v3h ^ mh) >>> 0;
      v3l = (v3l ^ ml) >>> 0;
    } else {
      v2l = (v2l ^ 0xff) >>> 0;
      rounds = 4;
    }
    for (let r = 0; r < rounds; r++) {
      let lo: number;
      let t: number;
      // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
      lo = (v0l + v1l) >>> 0;
      v0h = (v0h + v1h + (lo < v0l ? 1 : 0)) >>> 0;
      v0l = lo;
      t = ((v1h << 13) | (v1l >>> 19)) >>> 0;
      v1l = (((v1l << 13) | (v1h >>> 19)) ^ v0l) >>> 0;
      v1h = (t ^ v0h) >>> 0;
      t = v0h;
      v0h = v0l;
      v0l = t;
      // v2 += v3; v3 = rotl(v3, 16) ^ v2
      lo = (v2l + v3l) >>> 0;
      v2h = (v2h + v3h + (lo < v2l ? 1 : 0)) >>> 0;
      v2l = lo;
      t = ((v3h << 16) | (v3l >>> 16)) >>> 0;
      v3l = (((v3l << 16) | (v3h >>> 16)) ^ v2l) >>> 0;
      v3h = (t ^ v2h) >>> 0;
      // v0 += v3; v3 = rotl(v3, 21) ^ v0
      lo = (v0l + v3l) >>> 0;
      v0h = (v0h + v3h + (lo < v0l ? 1 : 0)) >>> 0;
      v0l = lo;
      t = ((v3h << 21) | (v3l >>> 11)) >>> 0;
      v3l = (((v3l << 21) | (v3h >>> 11)) ^ v0l) >>> 0;
      v3h = (t ^ v0h) >>> 0;
      // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
      lo = (v2l + v1l) >>> 0;
      v2h = (v2h + v1h + (lo < v2l ? 1 : 0)) >>> 0;
      v2l = lo;
      t = ((v1h << 17) | (v1l >>> 15)) >>> 0;
      v1l = (((v1l << 17) | (v1h >>> 15)) ^ v2l) >>> 0;
      v1h = (t ^ v2h) >>> 0;
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    if (p <= whole) {
      v0h = (v0h ^ mh) >>> 0;
      v0l = (v0l ^ ml) >>> 0;
    }
  }
  const hi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  const lo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  out[at] = lo & 0xff;
  out[at + 1] = (lo >>> 8) & 0xff;
  out[at + 2] = (lo >>> 16) & 0xff;
  out[at + 3] = lo >>> 24;
  out[at + 4] = hi & 0xff;
  out[at + 5] = (hi >>> 8) & 0xff;
  out[at + 6] = (hi >>> 16) & 0xff;
  out[at + 7] = hi >>> 24;
}
