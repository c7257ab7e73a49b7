import { pino } from 'pino';
import { loadConfig } from '../config/load-config.js';
import { openGeo } from '../geoip/open-geo.js';
import type { ClientLocator } from '../snapshot/snapshot.js';
import { SnapshotBuilder } from '../control/snapshot-builder.js';
import { explain, formatExplanation } from '../explain/explain.js';
import { ExplainInputError } from '../steer/client-arg.js';
import { formatProblem } from '../problems/problem-list.js';
import { ZoneDirectory } from '../control/zone-directory.js';

export interface ExplainFlags {
  config?: string;
  zones?: string;
  client: string;
  json?: boolean;
}

/** `meridian explain NAME [TYPE] --client IP[/PREFIX]`: the decision trace, from the files on disk. */
export function runExplain(name: string, type: string, flags: ExplainFlags): number {
  try {
    const config = loadConfig(flags.config ?? null, { zonesDir: flags.zones, logLevel: 'silent' });
    const loaded = new ZoneDirectory(config.zones.directory).load(true);
    const errors = loaded.problems.filter((p) => p.severity === 'error');
    for (const p of errors) process.stderr.write(formatProblem(p) + '\n');
    if (errors.length > 0) return 1;
    const geo = openGeo(config, pino({ level: 'silent' }));
    const locate: ClientLocator = (address, family, sourcePrefix, fromEcs) => ({ address, family, sourcePrefix, fromEcs, geo: geo.lookup(address) });
    const snapshot = SnapshotBuilder.offline(locate).build(1, { zones: loaded.zones });
    const e = explain(snapshot, name, type, flags.client);
    process.stdout.write((flags.json ? JSON.stringify(e, null, 2) : formatExplanation(e)) + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`meridian explain: ${err instanceof ExplainInputError ? err.message : String((err as { message?: unknown }).message ?? err)}\n`);
    return 2;
  }
}
