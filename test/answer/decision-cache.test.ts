/** DecisionCache and cacheablePrefix as units: keys, prefixes, versions and the bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision } from '../../src/steer/decide.js';
import { cacheablePrefix, DecisionCache, type ClientBits } from '../../src/answer/decision-cache.js';
import type { SteeredName } from '../../src/steer/types.js';
import { client } from '../steer/context.js';

const NAME = { key: 'www.example.com' } as unknown as SteeredName;
const OTHER = { key: 'api.example.com' } as unknown as SteeredName;
const A = 1;
const AAAA = 28;

function decision(key: string, scope = 0): Decision {
  return { outcome: 'answer', targets: [], scope, key, allDown: false, anyDown: false, trace: null };
}

function v4(text: string, sourcePrefix = 32): ClientBits {
  const v = text.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  return { family: 4, v4: v, v6: 0n, sourcePrefix };
}

describe('DecisionCache', () => {
  it('an entry serves every address of its network, and only those', () => {
    const c = new DecisionCache(100);
    c.useVersion(1);
    c.set(NAME, A, v4('81.2.69.142'), 24, decision('eu'));
    assert.equal(c.get(NAME, A, v4('81.2.69.1'))?.key, 'eu');
    assert.equal(c.get(NAME, A, v4('81.2.69.255'))?.key, 'eu');
    assert.equal(c.get(NAME, A, v4('81.2.70.1')), undefined, 'the next /24');
    assert.equal(c.get(NAME, A, v4('81.2.69.1', 24)), undefined, 'another source prefix is another bucket');
    assert.equal(c.get(NAME, AAAA, v4('81.2.69.1')), undefined, 'another type');
    assert.equal(c.get(OTHER, A, v4('81.2.69.1')), undefined, 'another name');
  });

  it('prefix 0 serves everyone; /32 one address; several lengths side by side', () => {
    const c = new DecisionCache(100);
    c.useVersion(1);
    c.set(NAME, A, v4('1.2.3.4'), 32, decision('one'));
    c.set(NAME, A, v4('9.9.9.9'), 8, decision('nine'));
    assert.equal(c.get(NAME, A, v4('1.2.3.4'))?.key, 'one');
    assert.equal(c.get(NAME, A, v4('1.2.3.5')), undefined);
    assert.equal(c.get(NAME, A, v4('9.1.1.1'))?.key, 'nine');
    c.set(OTHER, A, v4('9.9.9.9'), 0, decision('all'));
    assert.equal(c.get(OTHER, A, v4('200.1.1.1'))?.key, 'all');
  });

  it('IPv6 networks', () => {
    const c = new DecisionCache(100);
    c.useVersion(1);
    const six = (hi: bigint, sourcePrefix = 56): ClientBits => ({ family: 6, v4: 0, v6: hi << 64n, sourcePrefix });
    c.set(NAME, AAAA, six(0x20010db800000000n), 32, decision('six'));
    assert.equal(c.get(NAME, AAAA, six(0x20010db8ffff0000n))?.key, 'six');
    assert.equal(c.get(NAME, AAAA, six(0x20010db900000000n)), undefined);
  });

  it('a new version empties it; so does reaching the bound', () => {
    const c = new DecisionCache(3);
    c.useVersion(1);
    c.set(NAME, A, v4('1.0.0.0'), 24, decision('x'));
    c.useVersion(1);
    assert.equal(c.size, 1, 'the same version keeps entries');
    c.useVersion(2);
    assert.equal(c.size, 0);
    for (let i = 0; i < 3; i++) c.set(NAME, A, v4(`1.0.${i}.0`), 24, decision('x'));
    assert.equal(c.size, 3);
    c.set(NAME, A, v4('1.0.9.0'), 24, decision('y'));
    assert.equal(c.size, 1, 'a generation clear, then the new entry');
    assert.equal(c.get(NAME, A, v4('1.0.9.1'))?.key, 'y');
    assert.equal(new DecisionCache(0).size, 0);
  });

  it('keeps an answer only for decisions it holds, and drops answers with its entries', () => {
    const c = new DecisionCache<string>(10);
    c.useVersion(1);
    const held = decision('x', 24);
    const stranger = decision('y', 24);
    c.set(NAME, A, v4('1.0.0.0'), 24, held);
    c.setAnswer(held, 'encoded x');
    c.setAnswer(stranger, 'encoded y');
    assert.equal(c.answerFor(held), 'encoded x');
    assert.equal(c.answerFor(stranger), undefined, 'a decision the cache does not hold (random, live latency) gets no answer kept');
    c.useVersion(2);
    assert.equal(c.answerFor(held), undefined);
    c.setAnswer(held, 'late');
    assert.equal(c.answerFor(held), undefined, 'not after a clear either');
  });

  it('a decision found past the first probe is found again by the client network alone, without counting as an entry', () => {
    const c = new DecisionCache(2);
    c.useVersion(1);
    // Two lengths in one bucket (source /24): the /8 is probed second.
    c.set(NAME, A, v4('81.2.69.0', 24), 24, decision('gb'));
    c.set(NAME, A, v4('9.9.9.0', 24), 8, decision('nine'));
    assert.equal(c.size, 2);
    let kept = 0;
    for (let round = 0; round < 2; round++) {
      // More networks than the limit: the seen entries are dropped alone, never a decision.
      for (let i = 0; i < 5; i++) {
        assert.equal(c.get(NAME, A, v4(`9.1.${i}.0`, 24))?.key, 'nine', `9.1.${i}.0/24, round ${round}`);
        // kept (the second probe found it), up to the limit of 2, then emptied and kept anew
        kept++;
        assert.equal(c.seenSize, ((kept - 1) % 2) + 1, `seen entries after 9.1.${i}.0/24, round ${round}`);
        assert.equal(c.get(NAME, A, v4(`9.1.${i}.0`, 24))?.key, 'nine', 'found again');
        assert.equal(c.seenSize, ((kept - 1) % 2) + 1, 'found again among the seen, not added');
      }
      assert.equal(c.get(NAME, A, v4('81.2.69.0', 24))?.key, 'gb');
      assert.equal(c.get(NAME, A, v4('81.2.70.0', 24)), undefined, "the next /24 is still no one's");
      assert.equal(c.get(NAME, A, v4('9.1.0.0', 32)), undefined, 'another source prefix is another bucket');
      assert.equal(c.size, 2);
    }
    assert.equal(c.hits, 22);
    assert.equal(c.misses, 4);
    c.useVersion(2);
    assert.equal(c.get(NAME, A, v4('9.1.0.0', 24)), undefined, 'a new version empties the seen entries too');
  });

  it('the same for IPv6 networks', () => {
    const c = new DecisionCache(2);
    c.useVersion(1);
    const six = (hi: bigint, sourcePrefix = 56): ClientBits => ({ family: 6, v4: 0, v6: hi << 64n, sourcePrefix });
    c.set(NAME, AAAA, six(0x20010db800000000n), 56, decision('narrow'));
    c.set(NAME, AAAA, six(0x2a00000000000000n), 16, decision('wide'));
    for (let round = 0; round < 2; round++) {
      for (let i = 0n; i < 5n; i++) assert.equal(c.get(NAME, AAAA, six(0x2a00000000000000n + (i << 8n)))?.key, 'wide');
      assert.equal(c.get(NAME, AAAA, six(0x20010db800000000n))?.key, 'narrow');
      assert.equal(c.get(NAME, AAAA, six(0x2a01000000000000n)), undefined);
    }
    assert.equal(c.size, 2);
  });

  it('size 0 keeps nothing', () => {
    const c = new DecisionCache(0);
    c.set(NAME, A, v4('1.0.0.0'), 24, decision('x'));
    assert.equal(c.get(NAME, A, v4('1.0.0.0')), undefined);
  });
});

describe('cacheablePrefix', () => {
  it('never for a decision that drew random numbers or read live latency', () => {
    assert.equal(cacheablePrefix(decision('x', 0), client(), true), null);
  });
  it('0 when the decision did not depend on the client', () => {
    assert.equal(cacheablePrefix(decision('x', 0), client({ geo: { networkPrefix: 18 } }), false), 0);
  });
  it('the longer of the scope and the GeoIP network, capped at the source prefix', () => {
    assert.equal(cacheablePrefix(decision('x', 24), client({ geo: { networkPrefix: 18 } }), false), 24);
    assert.equal(cacheablePrefix(decision('x', 24), client({ geo: { networkPrefix: 31 } }), false), 31, 'a /24 claim must not cover a located /31 neighbour');
    assert.equal(cacheablePrefix(decision('x', 24), client({ sourcePrefix: 24, fromEcs: true, geo: { networkPrefix: 31 } }), false), 24);
    assert.equal(cacheablePrefix(decision('x', 24), client({ geo: {} }), false), 32, 'GeoIP network unknown: the address alone');
  });
});
