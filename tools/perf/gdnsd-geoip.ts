/**
 * gdnsd's geoip plugin set up like meridian's steered names of zones/example.com.policy.yaml,
 * for the steered-with-ECS mix of bench-dns (issue #19): the addresses, coordinates and TTLs
 * come from the policy file; the rules are written out here to mirror it, per name:
 *   www   geoip map: GB, IE → eu-west; EU, AF → eu-west then eu-central; NA → us-east;
 *         SA → sa-east then us-east; AS, OC → ap-southeast; elsewhere the nearest of
 *         us-east, eu-west, ap-southeast (gdnsd's distance mode), us-east when unknown
 *   near  geoip distance mode over near's targets, one answer (the proximity filter)
 *   api   metafo: eu-west, else us-east (the failover policy)
 *   pool  multifo: the first three targets (all healthy, first 3)
 * What gdnsd cannot say the same way: meridian splits EU/AF clients 90/10 between eu-west and
 * eu-central per /24 (gdnsd answers the first of the list), and the proximity filter weighs
 * ap-southeast's `bias`; so a few networks get other answers, which bench-dns counts.
 * The GeoIP database is the project's, in MaxMind's City layout (geoip2-city.ts), so both
 * servers place every client in the same country; meridian and gdnsd place a country at the
 * same centroid.
 */
import fs from 'node:fs';
import YAML from 'yaml';

interface PolicyTarget {
  readonly ipv4?: readonly string[];
  readonly location?: { readonly lat: number; readonly lon: number };
}
interface Policy {
  readonly targets: Readonly<Record<string, PolicyTarget>>;
  readonly names: Readonly<Record<string, { readonly ttl?: number; readonly targets?: readonly string[] }>>;
}

export interface GdnsdGeo {
  /** The `plugins => { ... }` stanza of gdnsd's config. */
  readonly plugins: string;
  /** gdnsd's zone file for example.com: the apex and the four steered names as DYNA records. */
  readonly zone: string;
}

export function gdnsdGeoFromPolicy(policyFile: string, mmdb: string): GdnsdGeo {
  const policy = YAML.parse(fs.readFileSync(policyFile, 'utf8')) as Policy;
  const target = (name: string): PolicyTarget => {
    const t = policy.targets[name];
    if (t?.ipv4?.[0] === undefined) throw new Error(`${policyFile}: target ${name} with an IPv4 address expected (gdnsd-geoip.ts mirrors it)`);
    return t;
  };
  const addr = (name: string): string => target(name).ipv4![0]!;
  const coords = (names: readonly string[]): string => names.map((n) => `${n} => [ ${target(n).location!.lat}, ${target(n).location!.lon} ]`).join(', ');
  const dcmap = (names: readonly string[]): string => names.map((n) => `${n} => ${addr(n)}`).join(', ');
  const ttl = (name: string): number => policy.names[name]?.ttl ?? 300;

  const wwwDcs = ['us-east', 'eu-west', 'ap-southeast', 'eu-central', 'sa-east']; // us-east first: the answer when nothing places the client
  const nearDcs = policy.names.near?.targets ?? [];
  if (nearDcs.length === 0) throw new Error(`${policyFile}: names.near.targets expected`);
  const pool = Object.keys(policy.targets).slice(0, 3);
  const plugins = `plugins => {
  geoip => {
    maps => {
      www => {
        geoip2_db => ${mmdb}
        datacenters => [ ${wwwDcs.join(', ')} ]
        auto_dc_coords => { ${coords(['us-east', 'eu-west', 'ap-southeast'])} }
        auto_dc_limit => 1
        map => {
          EU => { default => [ eu-west, eu-central ], GB => [ eu-west ], IE => [ eu-west ] }
          AF => [ eu-west, eu-central ]
          NA => [ us-east ]
          SA => [ sa-east, us-east ]
          AS => [ ap-southeast ]
          OC => [ ap-southeast ]
        }
      }
      near => {
        geoip2_db => ${mmdb}
        datacenters => [ ${nearDcs.join(', ')} ]
        auto_dc_coords => { ${coords(nearDcs)} }
        auto_dc_limit => 1
      }
    }
    resources => {
      www => { map => www, service_types => up, dcmap => { ${dcmap(wwwDcs)} } }
      near => { map => near, service_types => up, dcmap => { ${dcmap(nearDcs)} } }
    }
  }
  metafo => { resources => { api => { service_types => up, datacenters => [ eu-west, us-east ], dcmap => { ${dcmap(['eu-west', 'us-east'])} } } } }
  multifo => { pool => { service_types => up, ${pool.map((n, i) => `a${i} => ${addr(n)}`).join(', ')} } }
}
`;
  const zone = `$TTL 300
@ 300 SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 300 NS ns1
ns1 A 192.0.2.53
www ${ttl('www')} DYNA geoip!www
api ${ttl('api')} DYNA metafo!api
near ${ttl('near')} DYNA geoip!near
pool ${ttl('pool')} DYNA multifo!pool
`;
  return { plugins, zone };
}
