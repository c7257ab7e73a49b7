/**
 * DNS discovery as a pool source (`pools.*.discovery`): the name is re-resolved every
 * intervalMs (SRV: target, port and weight of the lowest priority group only, as clients use
 * them; A/AAAA: each address with the configured port). Discovered backends (ids `dns-…`)
 * join the pool's static ones; a change is applied as a reload, so new ones are checked
 * before they serve and gone ones finish what they have in flight. A failed or empty answer
 * keeps the last good set (logged, counted in meridian_l7_discovery_failures_total).
 */
import { createHash } from 'node:crypto';
import { promises as dns } from 'node:dns';
import net from 'node:net';
import { Type, type Static } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { BalancerConfig } from './config.js';

const HOSTNAME = '^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\\.?$';

export const DiscoverySchema = Type.Object(
  {
    dns: Type.String({ pattern: HOSTNAME, description: 'name to resolve, e.g. _http._tcp.web.internal' }),
    type: Type.Union([Type.Literal('SRV'), Type.Literal('A'), Type.Literal('AAAA')], { default: 'SRV' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'port of A/AAAA backends (SRV gives its own)' })),
    weight: Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'weight of A/AAAA backends (SRV weights are used, clamped to 1..1000)' }),
    maxConnections: Type.Integer({ minimum: 1, maximum: 100_000, default: 256, description: "of each discovered backend, as a static backend's" }),
    maxRequests: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1024, description: "of each discovered backend, as a static backend's" }),
    intervalMs: Type.Integer({ minimum: 100, maximum: 86_400_000, default: 30_000, description: 'time between resolutions' }),
    timeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 2000, description: 'one resolution slower than this fails' }),
    resolver: Type.Optional(Type.String({ description: 'IP:PORT of the DNS server to ask ([::1]:53 for IPv6); absent: the system resolvers' })),
  },
  { additionalProperties: false, description: 'backends found in DNS, beside the static ones' },
);
export type DiscoveryConfig = Static<typeof DiscoverySchema>;

/** Ids of discovered backends start with this; a static backend of a pool with discovery may not use it. */
export const DISCOVERED_PREFIX = 'dns-';

export interface DiscoveredBackend {
  readonly id: string;
  readonly address: string;
  readonly weight: number;
}

/** What a schema cannot say about `discovery`: the port where it is needed, a resolver that is IP:PORT, no static id in the dns- space. */
export function discoveryProblems(pools: BalancerConfig['pools']): { pointer: string; message: string }[] {
  const out: { pointer: string; message: string }[] = [];
  for (const [name, pool] of Object.entries(pools)) {
    const d = pool.discovery;
    const at = `/pools/${name}/discovery`;
    const field = `pools.${name}.discovery`;
    if (d === undefined) {
      if (pool.backends.length === 0) out.push({ pointer: `/pools/${name}/backends`, message: `pools.${name}.backends: a pool needs at least one backend, or discovery` });
      continue;
    }
    if (d.type !== 'SRV' && d.port === undefined) out.push({ pointer: at, message: `${field}.port: is required with type ${d.type}` });
    if (d.type === 'SRV' && d.port !== undefined) out.push({ pointer: `${at}/port`, message: `${field}.port: SRV records give the port; leave it out` });
    if (d.resolver !== undefined && resolverAddress(d.resolver) === null)
      out.push({ pointer: `${at}/resolver`, message: `${field}.resolver: "${d.resolver}" is not IP:PORT (e.g. 10.0.0.2:53 or [::1]:53)` });
    pool.backends.forEach((b, i) => {
      if (b.id.startsWith(DISCOVERED_PREFIX))
        out.push({
          pointer: `/pools/${name}/backends/${i}/id`,
          message: `pools.${name}.backends.${i}.id: "${b.id}": ids starting with ${DISCOVERED_PREFIX} are for discovered backends in a pool with discovery`,
        });
    });
  }
  return out;
}

function resolverAddress(text: string): string | null {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = Number(m?.[2]);
  if (m === null || net.isIP(m[1]!) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return net.isIPv6(m[1]!) ? `[${m[1]}]:${port}` : `${m[1]}:${port}`;
}

/** More records than this is an answer nobody meant (or a forged one): refused, the last good set stays. */
export const MAX_DISCOVERED = 1000;

/** One resolution of `d` (through `resolver`, which stop() may cancel); rejects on a DNS error, an empty or an oversized answer. */
export async function resolveDiscovery(d: DiscoveryConfig, resolver = new dns.Resolver({ timeout: d.timeoutMs, tries: 1 })): Promise<DiscoveredBackend[]> {
  if (d.resolver !== undefined) resolver.setServers([resolverAddress(d.resolver)!]);
  const name = d.dns.replace(/\.$/, '');
  let found: DiscoveredBackend[];
  if (d.type === 'SRV') {
    const records = await resolver.resolveSrv(name);
    // Only the lowest priority group: the others are fallbacks (RFC 2782), not extra capacity.
    const top = Math.min(...records.map((r) => r.priority));
    found = records
      .filter((r) => r.priority === top && r.port > 0 && usableTarget(r.name.replace(/\.$/, '')))
      .map((r) => backendAt(r.name.replace(/\.$/, ''), r.port, Math.min(1000, Math.max(1, r.weight))));
  } else {
    const addresses = d.type === 'A' ? await resolver.resolve4(name) : await resolver.resolve6(name);
    found = addresses.filter(usableTarget).map((a) => backendAt(a, d.port!, d.weight));
  }
  if (found.length === 0) throw Object.assign(new Error(`no usable ${d.type} records for ${name}`), { code: 'ENODATA' });
  if (found.length > MAX_DISCOVERED) throw Object.assign(new Error(`${found.length} ${d.type} records for ${name}, more than ${MAX_DISCOVERED}`), { code: 'ETOOMANY' });
  // One backend per address: a duplicate record would be two backends with one id.
  const unique = new Map(found.map((b) => [b.id, b]));
  return [...unique.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const TARGET_NAME = new RegExp(HOSTNAME);
/**
 * Addresses no backend has: unspecified (0.0.0.0, ::: "this host" on any port), broadcast,
 * multicast, and link-local, where cloud metadata services answer (169.254.169.254): a forged
 * or careless record must not point the balancer at them. Loopback stays (a sidecar).
 */
const NOT_BACKENDS = new net.BlockList();
NOT_BACKENDS.addSubnet('0.0.0.0', 8, 'ipv4');
NOT_BACKENDS.addSubnet('169.254.0.0', 16, 'ipv4');
NOT_BACKENDS.addSubnet('224.0.0.0', 3, 'ipv4'); // multicast, reserved and broadcast
NOT_BACKENDS.addAddress('::', 'ipv6');
NOT_BACKENDS.addSubnet('fe80::', 10, 'ipv6');
NOT_BACKENDS.addSubnet('ff00::', 8, 'ipv6');

/**
 * Whether a record's target may become a backend: a host name (what fits HOST:PORT and a URL;
 * an answer's name may hold any byte) or an address outside NOT_BACKENDS. Others are dropped.
 */
function usableTarget(target: string): boolean {
  // BlockList matches an IPv4-mapped IPv6 address (::ffff:169.254.169.254) against the IPv4 rules.
  const family = net.isIP(target);
  if (family !== 0) return !NOT_BACKENDS.check(target, family === 4 ? 'ipv4' : 'ipv6');
  return TARGET_NAME.test(target);
}

function backendAt(host: string, port: number, weight: number): DiscoveredBackend {
  const address = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  let id = `${DISCOVERED_PREFIX}${host.replace(/[^A-Za-z0-9_.-]/g, '-')}-${port}`;
  if (id.length > 63) id = `${DISCOVERED_PREFIX}${createHash('sha256').update(address).digest('hex').slice(0, 16)}`;
  return { id, address, weight };
}

/** `config` as declared (file and registrations): the running one less what discovery found, which a change is checked without and merged with again. */
export function withoutDiscovered(config: BalancerConfig): BalancerConfig {
  const found = (b: { readonly id: string }): boolean => b.id.startsWith(DISCOVERED_PREFIX);
  if (!Object.values(config.pools).some((p) => p.discovery !== undefined && p.backends.some(found))) return config;
  const pools = Object.fromEntries(Object.entries(config.pools).map(([name, p]) => [name, p.discovery === undefined ? p : { ...p, backends: p.backends.filter((b) => !found(b)) }]));
  return { ...config, pools };
}

/**
 * Keeps the discovered set of every pool with `discovery`, re-resolving on its interval, and
 * tells the balancer when a set changed (it then applies the running config again, merged).
 */
export class Discovery {
  private readonly sets = new Map<string, readonly DiscoveredBackend[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Failed resolutions per pool, for /metrics. */
  readonly failures = new Map<string, number>();
  private stopped = false;
  private readonly inFlight = new Set<InstanceType<typeof dns.Resolver>>();

  constructor(
    private readonly config: () => BalancerConfig,
    private readonly log: Logger,
    private readonly onChange: (pool: string) => void,
  ) {}

  /** Resolves every pool with discovery once (start-up), each failure logged; then keeps them on their timers. */
  async start(config: BalancerConfig): Promise<void> {
    await Promise.all(Object.keys(config.pools).map((name) => this.resolve(name, config)));
    this.sync(config, false);
  }

  /** After a reload: timers for pools that gained discovery (resolved at once), none for those that lost it. */
  sync(config: BalancerConfig, resolveNew = true): void {
    if (this.stopped) return;
    for (const [name, timer] of this.timers) {
      if (config.pools[name]?.discovery === undefined) {
        clearTimeout(timer);
        this.timers.delete(name);
        this.sets.delete(name);
      }
    }
    for (const [name, pool] of Object.entries(config.pools)) {
      if (pool.discovery !== undefined && !this.timers.has(name)) {
        if (resolveNew) void this.resolve(name, config).then((changed) => changed && this.onChange(name));
        this.schedule(name, pool.discovery.intervalMs);
      }
    }
  }

  private schedule(name: string, delayMs: number): void {
    const timer = setTimeout(() => {
      void this.resolve(name, this.config()).then((changed) => {
        if (changed) this.onChange(name);
        const d = this.config().pools[name]?.discovery;
        if (d !== undefined && !this.stopped && this.timers.get(name) === timer) this.schedule(name, d.intervalMs);
      });
    }, delayMs);
    timer.unref();
    this.timers.set(name, timer);
  }

  /** Resolves one pool's name; true when its set changed. A failure keeps the last good set. */
  private async resolve(name: string, config: BalancerConfig): Promise<boolean> {
    const d = config.pools[name]?.discovery;
    if (d === undefined) return false;
    let found: DiscoveredBackend[];
    const resolver = new dns.Resolver({ timeout: d.timeoutMs, tries: 1 });
    this.inFlight.add(resolver);
    try {
      found = await resolveDiscovery(d, resolver);
    } catch (err) {
      if (this.stopped) return false;
      this.failures.set(name, (this.failures.get(name) ?? 0) + 1);
      const e = err as NodeJS.ErrnoException;
      this.log.warn({ pool: name, dns: d.dns, type: d.type, error: e.code ?? e.message, kept: this.sets.get(name)?.length ?? 0 }, 'DNS discovery failed; the last good set of backends stays');
      return false;
    } finally {
      this.inFlight.delete(resolver);
    }
    if (this.stopped) return false;
    const before = this.sets.get(name);
    if (before !== undefined && JSON.stringify(before) === JSON.stringify(found)) return false;
    this.sets.set(name, found);
    this.log.info({ pool: name, dns: d.dns, backends: found.map((b) => b.address) }, 'DNS discovery found a new set of backends');
    return true;
  }

  /** `config` with each discovery pool's backends the static ones plus the current discovered set. */
  merge(config: BalancerConfig): BalancerConfig {
    if (!Object.values(config.pools).some((p) => p.discovery !== undefined)) return config;
    const next = structuredClone(config);
    for (const [name, pool] of Object.entries(next.pools)) {
      if (pool.discovery === undefined) continue;
      const kept = pool.backends.filter((b) => !b.id.startsWith(DISCOVERED_PREFIX));
      const { maxConnections, maxRequests } = pool.discovery;
      const found = (this.sets.get(name) ?? []).map((b) => ({ id: b.id, address: b.address, weight: b.weight, maxConnections, maxRequests }));
      pool.backends = [...kept, ...found];
    }
    return next;
  }

  /** How many discovered backends each pool has now. */
  counts(): Map<string, number> {
    return new Map([...this.sets].map(([name, set]) => [name, set.length]));
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.inFlight) r.cancel(); // a query to a silent server would hold the process for its timeout
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
