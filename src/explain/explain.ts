/**
 * The decision trace for (name, type, client): what `meridian explain` prints and what
 * the admin API (issue #5) will serve. Runs the same decide() the data plane runs.
 */
import { RRClass, RRType, typeToText } from '../dns/constants.js';
import { labelKey, nameToText, parseName, readWireName } from '../dns/name.js';
import { resolve } from '../resolve/resolver.js';
import { steeringEnv, type Snapshot } from '../snapshot/snapshot.js';
import { ExplainInputError, parseClientArg } from '../steer/client-arg.js';
import { decide, type Decision } from '../steer/decide.js';
import type { ClientInfo, SteeredName, TraceEntry } from '../steer/types.js';

export interface Explanation {
  readonly name: string;
  readonly type: string;
  readonly steered: boolean;
  readonly client: ClientInfo;
  readonly trace: readonly TraceEntry[];
  readonly outcome: 'answer' | 'nodata' | 'servfail' | 'not-steered';
  readonly addresses: readonly string[];
  readonly ttl: number | null;
  /** The ECS scope an answer to an ECS query with this client prefix would carry. */
  readonly scope: number;
  readonly allDown: boolean;
  /**
   * The CNAME chain inside our zones from the asked name, as "owner CNAME target" lines
   * (empty when the name itself is steered or has no CNAME). When it reaches a steered name,
   * `steeredName` is that name and the trace is its decision, as the server answers.
   */
  readonly cnames: readonly string[];
  readonly steeredName: string | null;
}

export function explain(snapshot: Snapshot, name: string, type: string, clientArg: string, now = Date.now(), rand = Math.random): Explanation {
  const qtype = type.toUpperCase() === 'AAAA' ? RRType.AAAA : RRType.A;
  if (type.toUpperCase() !== 'A' && type.toUpperCase() !== 'AAAA') throw new ExplainInputError(`type "${type}": only A and AAAA answers are steered`);
  let owner;
  try {
    owner = parseName(name.endsWith('.') ? name : name + '.', null);
  } catch (err) {
    throw new ExplainInputError(`name "${name}": ${(err as Error).message}`);
  }
  const c = parseClientArg(clientArg);
  const client = snapshot.locate(c.address, c.family, c.prefix, c.fromEcs);
  const entry = snapshot.steered.get(owner.map(labelKey).join('.'));
  const base = { name: nameToText(owner), type: typeToText(qtype), client };
  const env = steeringEnv(snapshot, rand, now);
  const reached: { name: SteeredName; decision: Decision }[] = [];
  if (entry) reached.push({ name: entry.name, decision: decide(entry.name, qtype === RRType.A ? 4 : 6, client, env, true) });
  let cnames: string[] = [];
  if (!entry) {
    // Follow the name as the server answers it (the resolver's own CNAME chase, loops and
    // chain limit included), so a CNAME to a steered name shows that name's decision.
    const res = resolve(
      snapshot,
      { labels: owner, labelKeys: owner.map(labelKey), qtype, qclass: RRClass.IN },
      {
        minimalAny: false,
        steer: (name, t) => {
          const decision = decide(name, t === RRType.A ? 4 : 6, client, env, true);
          reached.push({ name, decision });
          return decision;
        },
      },
    );
    cnames = res.answer.filter((e) => e.set.type === RRType.CNAME).map((e) => `${nameToText(e.owner)} CNAME ${readWireName(e.set.rdatas[0]!, 0).name.join('.')}.`);
  }
  const hit = reached[0];
  if (hit === undefined) {
    return { ...base, steered: false, trace: [], outcome: 'not-steered', addresses: [], ttl: null, scope: 0, allDown: false, cnames, steeredName: null };
  }
  const { name: steeredName, decision } = hit;
  const addresses = decision.outcome === 'answer' ? decision.targets.flatMap((t) => (qtype === RRType.A ? t.ipv4 : t.ipv6)) : [];
  return {
    ...base,
    steered: true,
    trace: decision.trace ?? [],
    outcome: decision.outcome,
    addresses,
    ttl: steeredName.ttl,
    scope: decision.scope,
    allDown: decision.allDown,
    cnames,
    steeredName: cnames.length > 0 ? nameToText(steeredName.owner) : null,
  };
}

/** Plain-text rendering for the CLI. */
export function formatExplanation(e: Explanation): string {
  const g = e.client.geo;
  const lines: string[] = [];
  lines.push(`${e.name} ${e.type} for client ${e.client.address}/${e.client.sourcePrefix}${e.client.fromEcs ? ' (as EDNS Client Subnet)' : ' (resolver address)'}`);
  const where = [
    g.continent && `continent ${g.continent}`,
    g.country && `country ${g.country}`,
    g.subdivisions.length > 0 && `subdivisions ${g.subdivisions.join(', ')}`,
    g.location && `location ${g.location.lat}, ${g.location.lon}${g.locationApprox === 'country-centroid' ? ` (approximate: country centroid of ${g.country})` : ''}`,
    g.asn !== null && `AS${g.asn}`,
  ].filter(Boolean);
  lines.push(`  location: ${where.length > 0 ? where.join('; ') : 'unknown'}`);
  lines.push(`  from:     ${g.source}`);
  for (const c of e.cnames) lines.push(`  via:      ${c}`);
  if (!e.steered) {
    lines.push(e.cnames.length > 0 ? '  not steered: the chain ends at no steered name' : '  not steered: answered from the zone file like any static record');
    return lines.join('\n');
  }
  if (e.steeredName !== null) lines.push(`  steered:  ${e.steeredName}, decided as follows`);
  e.trace.forEach((t, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${t.filter.padEnd(11)} kept [${t.kept.join(', ')}]: ${t.why}`));
  if (e.outcome === 'answer') lines.push(`  answer:   ${e.addresses.join(', ')} (TTL ${e.ttl})${e.allDown ? ', every target was down' : ''}`);
  else lines.push(`  answer:   ${e.outcome.toUpperCase()}`);
  lines.push(`  ECS scope: /${e.scope}${e.scope === 0 ? ' (the answer does not depend on the client)' : ''}`);
  return lines.join('\n');
}
