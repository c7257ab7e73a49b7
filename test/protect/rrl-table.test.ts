/**
 * The RRL table (src/protect/rrl.ts) on simulated time: a bucket refills at the rate and
 * holds a second's worth; debt keeps a flooder limited up to the window; slip picks every
 * N-th; networks, kinds and names are counted apart; and a flood from a million forged
 * networks neither grows the table nor frees the network it floods.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseKind, ResponseRateLimiter, RrlAction, type RrlOptions } from '../../src/protect/rrl.js';

const OPTIONS: RrlOptions = { responsesPerSecond: 10, slip: 2, windowSec: 5, ipv4PrefixLength: 24, ipv6PrefixLength: 56, tableSize: 1024 };
const v4 = (a: number, b: number, c: number, d: number): Uint8Array => Uint8Array.from([a, b, c, d]);

/** Sends `n` answers to `address` spread evenly over [from, from + ms); returns how many of each action. */
function send(rrl: ResponseRateLimiter, address: Uint8Array, n: number, from: number, ms: number, kind: ResponseKind = ResponseKind.POSITIVE, name = 1): number[] {
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) counts[rrl.account(address, kind, name, from + (i * ms) / n)]!++;
  return counts;
}

describe('RRL table', () => {
  it('passes a second of burst, then the rate; slip 2 truncates every other limited answer', () => {
    const rrl = new ResponseRateLimiter(OPTIONS, 1);
    const [pass, drop, slip] = send(rrl, v4(192, 0, 2, 1), 1000, 0, 1000);
    // 10 at once, then about 10 more as the second goes by.
    assert.ok(pass! >= 10 && pass! <= 21, `passed ${pass}`);
    assert.ok(Math.abs(drop! - slip!) <= 1, `dropped ${drop}, slipped ${slip}`);
  });

  it('keeps a flooder limited up to the window after it stops, then forgets', () => {
    const rrl = new ResponseRateLimiter(OPTIONS, 1);
    const a = v4(192, 0, 2, 1);
    send(rrl, a, 5000, 0, 1000);
    assert.notEqual(rrl.account(a, ResponseKind.POSITIVE, 1, 3000), RrlAction.PASS, 'two seconds later: still in debt');
    assert.equal(rrl.account(a, ResponseKind.POSITIVE, 1, 7000), RrlAction.PASS, 'after the window: answered');
  });

  it('counts networks, kinds and names apart; the same /24 and /56 together', () => {
    const rrl = new ResponseRateLimiter(OPTIONS, 1);
    send(rrl, v4(192, 0, 2, 1), 100, 0, 10);
    assert.notEqual(rrl.account(v4(192, 0, 2, 200), ResponseKind.POSITIVE, 1, 10), RrlAction.PASS, 'same /24');
    assert.equal(rrl.account(v4(192, 0, 3, 1), ResponseKind.POSITIVE, 1, 10), RrlAction.PASS, 'another /24');
    assert.equal(rrl.account(v4(192, 0, 2, 1), ResponseKind.NXDOMAIN, 1, 10), RrlAction.PASS, 'another kind');
    assert.equal(rrl.account(v4(192, 0, 2, 1), ResponseKind.POSITIVE, 2, 10), RrlAction.PASS, 'another name');
    // 2001:db8:0:1:: — octet 6 is the last of a /56, octet 7 the first past it.
    const six = (octet6: number, octet7: number): Uint8Array => Uint8Array.from([0x20, 1, 0x0d, 0xb8, 0, 1, octet6, octet7, 0, 0, 0, 0, 0, 0, 0, 1]);
    send(rrl, six(0x10, 0), 100, 0, 10);
    assert.notEqual(rrl.account(six(0x10, 0xff), ResponseKind.POSITIVE, 1, 10), RrlAction.PASS, 'same /56');
    assert.equal(rrl.account(six(0x11, 0), ResponseKind.POSITIVE, 1, 10), RrlAction.PASS, 'another /56');
  });

  it('a flood from a million forged networks keeps the table its size and the flooded network limited', () => {
    const rrl = new ResponseRateLimiter(OPTIONS, 7);
    const victim = v4(198, 51, 100, 7);
    let victimPassed = 0;
    // One simulated second: the victim's network 1,000 times, 1,000 forged /24s between each.
    for (let ms = 0; ms < 1000; ms++) {
      for (let k = 0; k < 1000; k++) {
        const n = ms * 1000 + k;
        rrl.account(v4(10 + (n >>> 16), (n >>> 8) & 0xff, n & 0xff, 1), ResponseKind.POSITIVE, 1, ms);
      }
      if (rrl.account(victim, ResponseKind.POSITIVE, 1, ms) === RrlAction.PASS) victimPassed++;
    }
    assert.equal(rrl.capacity, 1024);
    assert.ok(victimPassed <= 40, `the victim's network got ${victimPassed} answers in a second at rate 10`);
  });
});
