/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012), the pseudorandom function of RFC 9018 §4.4
 * server cookies. 64-bit words are kept as two unsigned 32-bit halves (no BigInt, no
 * allocation per call): the state lives in one preallocated Uint32Array.
 */

// v0..v3 as [hi, lo] pairs: v0 = s[0],s[1]; v1 = s[2],s[3]; v2 = s[4],s[5]; v3 = s[6],s[7].
const s = new Uint32Array(8);

/** a += b (mod 2^64) for the words at indices a and b of the state. */
function add(a: number, b: number): void {
  const lo = (s[a + 1]! + s[b + 1]!) >>> 0;
  s[a] = (s[a]! + s[b]! + (lo < s[a + 1]! ? 1 : 0)) >>> 0;
  s[a + 1] = lo;
}

/** Word at index a rotated left by n (0 < n < 32). */
function rotl(a: number, n: number): void {
  const hi = s[a]!;
  const lo = s[a + 1]!;
  s[a] = ((hi << n) | (lo >>> (32 - n))) >>> 0;
  s[a + 1] = ((lo << n) | (hi >>> (32 - n))) >>> 0;
}

/** Word at index a rotated by 32: its halves swap. */
function swap(a: number): void {
  const hi = s[a]!;
  s[a] = s[a + 1]!;
  s[a + 1] = hi;
}

function xorInto(a: number, b: number): void {
  s[a] = (s[a]! ^ s[b]!) >>> 0;
  s[a + 1] = (s[a + 1]! ^ s[b + 1]!) >>> 0;
}

function sipRound(): void {
  add(0, 2); rotl(2, 13); xorInto(2, 0); swap(0);
  add(4, 6); rotl(6, 16); xorInto(6, 4);
  add(0, 6); rotl(6, 21); xorInto(6, 0);
  add(4, 2); rotl(2, 17); xorInto(2, 4); swap(4);
}

/** Little-endian 32-bit word of `b` at `at`, reading 0 past `end`. */
function le32(b: Uint8Array, at: number, end: number): number {
  let w = 0;
  for (let i = 3; i >= 0; i--) w = (w << 8) | (at + i < end ? b[at + i]! : 0);
  return w >>> 0;
}

/**
 * SipHash-2-4 of `msg[0, length)` under the 16-octet `key`, written as 8 octets
 * little-endian (as the reference implementation does) into `out` at `at`.
 */
export function sipHash24(key: Uint8Array, msg: Uint8Array, length: number, out: Uint8Array, at: number): void {
  const k0hi = le32(key, 4, 16);
  const k0lo = le32(key, 0, 16);
  const k1hi = le32(key, 12, 16);
  const k1lo = le32(key, 8, 16);
  // "somepseudorandomlygeneratedbytes"
  s[0] = (k0hi ^ 0x736f6d65) >>> 0;
  s[1] = (k0lo ^ 0x70736575) >>> 0;
  s[2] = (k1hi ^ 0x646f7261) >>> 0;
  s[3] = (k1lo ^ 0x6e646f6d) >>> 0;
  s[4] = (k0hi ^ 0x6c796765) >>> 0;
  s[5] = (k0lo ^ 0x6e657261) >>> 0;
  s[6] = (k1hi ^ 0x74656462) >>> 0;
  s[7] = (k1lo ^ 0x79746573) >>> 0;
  const whole = length - (length % 8);
  for (let p = 0; p <= whole; p += 8) {
    let mhi: number;
    let mlo: number;
    if (p < whole) {
      mlo = le32(msg, p, length);
      mhi = le32(msg, p + 4, length);
    } else {
      // The last block: the remaining octets, and the length mod 256 in the top octet.
      mlo = le32(msg, p, length);
      mhi = (le32(msg, p + 4, length) | ((length & 0xff) << 24)) >>> 0;
    }
    s[6] = (s[6]! ^ mhi) >>> 0;
    s[7] = (s[7]! ^ mlo) >>> 0;
    sipRound();
    sipRound();
    s[0] = (s[0]! ^ mhi) >>> 0;
    s[1] = (s[1]! ^ mlo) >>> 0;
  }
  s[5] = (s[5]! ^ 0xff) >>> 0;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  const hi = (s[0]! ^ s[2]! ^ s[4]! ^ s[6]!) >>> 0;
  const lo = (s[1]! ^ s[3]! ^ s[5]! ^ s[7]!) >>> 0;
  for (let i = 0; i < 4; i++) {
    out[at + i] = (lo >>> (8 * i)) & 0xff;
    out[at + 4 + i] = (hi >>> (8 * i)) & 0xff;
  }
}
