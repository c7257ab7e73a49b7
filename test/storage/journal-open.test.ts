/**
 * What a journal writer reads when it opens (storage/journal.ts): the serials of each entry,
 * not its changes (decoding a 10,000-operation entry held the answering thread 280 ms). It
 * must agree with a full decode on where the next append goes, the last serial, a torn tail
 * and corruption.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJournal, encodeEntry, type JournalEntry } from '../../src/storage/journal.js';

const entry = (from: number, changes: number): JournalEntry => ({
  from,
  to: from + 1,
  changes: Array.from({ length: changes }, (_, i) => ({ owner: [`h${i}`, 'example'], type: 1, old: null, new: { ttl: 300, class: 1, rdatas: [Buffer.from([10, 0, i >> 8, i & 255])] } })),
});

const summary = (buf: Buffer, serialsOnly: boolean): unknown => {
  const c = decodeJournal(buf, serialsOnly);
  return { serials: c.entries.map((e) => [e.from, e.to]), validBytes: c.validBytes, tornBytes: c.tornBytes, corrupt: c.corrupt };
};

describe('journal: opening reads the serials only', () => {
  const a = encodeEntry(entry(1, 3));
  const big = encodeEntry(entry(2, 10_000));
  const c = encodeEntry(entry(3, 1));
  const flipped = Buffer.from(big);
  flipped[flipped.length - 5]! ^= 1;
  const rows: Array<[string, Buffer]> = [
    ['whole entries, one of 10,000 changes', Buffer.concat([a, big, c])],
    ['a torn tail', Buffer.concat([a, big, c.subarray(0, c.length - 3)])],
    ['a bad checksum in the middle', Buffer.concat([a, flipped, c])],
    ['garbage after the entries', Buffer.concat([a, Buffer.from('not a journal entry')])],
    ['empty', Buffer.alloc(0)],
  ];
  for (const [what, buf] of rows) {
    it(`${what}: as a full decode`, () => {
      assert.deepEqual(summary(buf, true), summary(buf, false));
    });
  }
});
