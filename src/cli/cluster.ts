/**
 * `meridian cluster export DIR` and `meridian cluster import DIR` (issue #13): the cluster
 * store's zones and policies as files, and back. Export writes `<zone>.zone` and
 * `<zone>.policy.yaml` (atomically) for every zone in the bucket. Import loads DIR with the
 * server's own loader first: any file with an error refuses the whole import (file:line), so
 * the running nodes never get a zone they cannot load; then each zone is written to the
 * bucket, and every node applies it from its watch.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { decodeZoneDoc, encodeZoneDoc, zoneKey } from '../admin/cluster-replica.js';
import { openBucket } from '../cluster/kv-store.js';
import type { KV } from '@nats-io/kv';
import { nameToText, parseName } from '../dns/name.js';
import { formatProblem } from '../problems/problem-list.js';
import { policyFileFor } from '../steer/policy-file.js';
import { writeFileAtomic } from '../storage/atomic-write.js';
import { ZONE_FILE_SUFFIX, ZoneDirectory } from '../control/zone-directory.js';

export interface ClusterFlags {
  config?: string;
  cluster?: string;
}

function clusterOptions(flags: ClusterFlags): ReturnType<typeof loadConfig>['cluster'] {
  const config = loadConfig(flags.config ?? null, { cluster: flags.cluster });
  if (config.cluster.servers.length === 0) throw new Error('no NATS servers: give --cluster nats://HOST:PORT[,…] (or cluster.servers in --config, or MERIDIAN_CLUSTER)');
  return config.cluster;
}

/** Runs `work` on the bucket, then closes it; any failure is one line on stderr and exit code 1. */
async function withBucket(flags: ClusterFlags, command: string, work: (kv: KV) => Promise<void>): Promise<number> {
  let bucket;
  try {
    bucket = await openBucket(clusterOptions(flags));
    await work(bucket.kv);
    return 0;
  } catch (err) {
    process.stderr.write(`meridian cluster ${command}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await bucket?.close();
  }
}

/** Writes every zone of the bucket into `dir` (created if missing); returns the exit code. */
export function runClusterExport(dir: string, flags: ClusterFlags): Promise<number> {
  return withBucket(flags, 'export', async (kv) => {
    fs.mkdirSync(dir, { recursive: true });
    let zones = 0;
    for await (const key of await kv.keys('zone.>')) {
      const e = await kv.get(key);
      if (e === null || e.operation !== 'PUT') continue;
      const origin = parseName(Buffer.from(key.slice('zone.'.length), 'base64url').toString('utf8'), null);
      const base = nameToText(origin).replace(/\.$/, '') || 'root';
      if (base.includes('/') || base.startsWith('.')) throw new Error(`${key}: "${nameToText(origin)}" cannot be a file name`);
      const doc = await decodeZoneDoc(e.value);
      writeFileAtomic(path.join(dir, base + ZONE_FILE_SUFFIX), doc.zone);
      const policy = path.join(dir, `${base}.policy.yaml`);
      if (doc.policy !== null) writeFileAtomic(policy, doc.policy);
      else fs.rmSync(policy, { force: true });
      process.stdout.write(`${nameToText(origin)} revision ${e.revision} → ${path.join(dir, base + ZONE_FILE_SUFFIX)}${doc.policy !== null ? ' (and its policy)' : ''}\n`);
      zones++;
    }
    process.stdout.write(`${zones} zone(s) exported\n`);
  });
}

/** Loads `dir` as the server would, refuses it whole on any error, then writes each zone to the bucket. */
export async function runClusterImport(dir: string, flags: ClusterFlags): Promise<number> {
  const zones = new ZoneDirectory(path.resolve(dir));
  let outcome;
  try {
    outcome = zones.load(true);
  } catch (err) {
    process.stderr.write(`meridian cluster import: ${(err as Error).message}\n`);
    return 2;
  }
  if (outcome.folderProblem) {
    process.stderr.write(`${formatProblem(outcome.folderProblem)}\n`);
    return 2;
  }
  const errors = outcome.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0 || zones.statuses.some((s) => s.zone === null)) {
    for (const p of errors) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write('meridian cluster import: nothing imported (fix the files above)\n');
    return 2;
  }
  return withBucket(flags, 'import', async (kv) => {
    for (const s of zones.statuses) {
      // The files as they are (comments kept), as a node writes them back.
      const policyFile = policyFileFor(s.file);
      const doc = { zone: fs.readFileSync(s.file, 'utf8'), policy: policyFile === null ? null : fs.readFileSync(policyFile, 'utf8') };
      const revision = await kv.put(zoneKey(s.origin), await encodeZoneDoc(doc));
      process.stdout.write(`${s.file} → ${nameToText(s.origin)} revision ${revision}\n`);
    }
    process.stdout.write(`${zones.statuses.length} zone(s) imported\n`);
  });
}
