/**
 * One zone load, as the reload thread (zone-load-thread.ts) and the zone load process
 * (zone-load-process.ts) both run it: the policy beside the zone file, the zone file and its
 * journal, read once each and digested as read, then checked and built (packed).
 */
import { createHash } from 'node:crypto';
import type { Name } from '../dns/name.js';
import type { FileProblem } from '../problems/types.js';
import type { Zone } from '../zone/zone.js';
import { loadZoneFile, readPolicyBeside, type ReadPolicy } from './zone-directory.js';
import { readFileChunked } from '../storage/chunked-io.js';

/** A zone built, with what the answering thread needs beside its nodes. */
export interface LoadedWork {
  readonly kind: 'loaded';
  readonly zone: Zone;
  readonly recordCount: number;
  readonly digest: string;
  /** The policy file's bytes as this load read them (or its absence). */
  readonly policyDigest: string;
  /** Those bytes: the answering thread compiles them, not the file as it may be by then. */
  readonly policy: ReadPolicy;
  readonly problems: FileProblem[];
}

/**
 * A digest of what the load read: the policy file, then the zone file and each $INCLUDE'd
 * one as the parser read them. The main thread keeps it with the zone it built, and a
 * forced reload (SIGHUP) that reads the same skips sending and rebuilding the zone.
 */
function digestingReader(policy: ReadPolicy): { read: (file: string) => string; digest: (serial: number) => string; policyDigest: string } {
  const hash = createHash('sha256');
  // The bytes this load compiles, here and on the answering thread: a digest of any other
  // read could say "unchanged" of files whose policy was never compiled (an edit undone).
  const text = policy === null ? 'no policy' : 'text' in policy.read ? policy.read.text : `unreadable policy: ${policy.read.problems.map((p) => p.message).join('; ')}`;
  hash.update(text);
  return {
    /** The policy file's alone: a reload that reads the same keeps the steered names compiled before. */
    policyDigest: createHash('sha256').update(text).digest('base64'),
    read: (file) => {
      const text = readFileChunked(file).toString('utf8');
      hash.update(`${file}\0${text.length}\0`).update(text);
      return text;
    },
    /** `serial`: the zone's, which the journal (read apart from the files) moves with every entry it applied. */
    digest: (serial: number) => hash.update(`\0serial ${serial}`).digest('base64'),
  };
}

/** Loads and builds one zone file; throws only on a bug (the callers report it as the file's problem). */
export function loadAndPack(file: string, origin: Name): LoadedWork | { readonly kind: 'failed'; readonly problems: FileProblem[] } {
  const policy = readPolicyBeside(file);
  const reader = digestingReader(policy);
  const result = loadZoneFile(file, origin, reader.read, policy);
  if (result.zone === null) return { kind: 'failed', problems: result.problems };
  const { zone } = result;
  return { kind: 'loaded', zone, recordCount: zone.recordCount, digest: reader.digest(zone.serial), policyDigest: reader.policyDigest, policy, problems: result.problems };
}
