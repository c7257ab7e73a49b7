import { Rcode, RRClass, RRType } from '../dns/constants.js';
import type { ChaosAnswers } from '../snapshot/snapshot.js';
import { emptyResolution, type Resolution } from './resolution.js';
import type { Question } from './resolver.js';

/** The conventional CHAOS names (BIND, Knot, NSD); answered only when configured. */
const CHAOS_NAMES: Record<string, keyof ChaosAnswers> = {
  'version.bind': 'version',
  'version.server': 'version',
  'hostname.bind': 'identity',
  'id.server': 'identity',
};

/** TXT in class CH for version.bind / id.server; REFUSED unless the operator enabled it. */
export function chaosAnswer(chaos: ChaosAnswers, q: Question): Resolution {
  const field = CHAOS_NAMES[q.labelKeys.join('.')];
  const text = field === undefined ? null : chaos[field];
  if (text === null || (q.qtype !== RRType.TXT && q.qtype !== RRType.ANY)) return emptyResolution(Rcode.REFUSED);
  const bytes = Buffer.from(text, 'utf8').subarray(0, 255);
  const rdata = Buffer.concat([Buffer.from([bytes.length]), bytes]);
  const set = { owner: q.labels, type: RRType.TXT, class: RRClass.CH, ttl: 0, rdatas: [rdata], source: { file: '(chaos)', line: 0 } };
  return { rcode: Rcode.NOERROR, authoritative: true, answer: [{ owner: q.labels, set, ttl: 0 }], authority: [], additional: [], glueRequired: false };
}
