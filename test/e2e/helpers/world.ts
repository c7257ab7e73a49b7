/**
 * A small world for end-to-end tests: three regions, each a real HTTP server on 127.0.0.1
 * that meridian probes, and a temp zones folder with example.com whose `www` is steered by
 * continent (with failover to us when eu is down). Addresses come from MaxMind's test
 * databases (test/fixtures/geoip, table in its README):
 *   2.3.3.0/24       continent EU  → eu (192.0.2.1), us when eu is down
 *   214.78.120.0/24  US, NA        → us (192.0.2.2)
 *   175.16.199.0/24  CN, AS        → ap (192.0.2.3)
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { projectRoot, startTestServer, type TestServer } from '../../support/test-server.js';

export const SUBNETS = { eu: '2.3.3.0/24', us: '214.78.120.0/24', ap: '175.16.199.0/24' } as const;
export const ADDRESSES = { eu: '192.0.2.1', us: '192.0.2.2', ap: '192.0.2.3' } as const;
export type RegionName = keyof typeof ADDRESSES;

/** An HTTP health endpoint for one region; close() makes its probe fail (connection refused). */
export class RegionServer {
  #server: http.Server | null = null;
  port = 0;

  async start(port = 0): Promise<void> {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end('ok'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.port = (server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

export interface World {
  readonly dir: string;
  readonly server: TestServer;
  readonly regions: Readonly<Record<RegionName, RegionServer>>;
  /** Stops meridian and the regions and removes the temp folder. */
  close(): Promise<void>;
}

const ZONE = `$ORIGIN example.com.
$TTL 60
@      IN SOA ns1 hostmaster 1 7200 3600 1209600 30
       IN NS  ns1
ns1    IN A   192.0.2.53
mail   IN A   192.0.2.25
alias  IN CNAME www
info   IN TXT "hello from meridian" "with \\"quotes\\"; semicolons and caf\\195\\169"
www    IN TXT "steered"
`;

/** Probes every second, down after one failure: the failover tests wait seconds, not minutes. */
function policy(ports: Record<RegionName, number>): string {
  const probe = (p: number): string => `{ type: http, port: ${p}, path: /health, interval: 1, timeout: 300, fall: 1, rise: 1, jitter: 0 }`;
  return `probes:
  eu-web: ${probe(ports.eu)}
  us-web: ${probe(ports.us)}
  ap-web: ${probe(ports.ap)}
targets:
  eu: { region: eu-west, ipv4: [${ADDRESSES.eu}], location: { lat: 50.1, lon: 8.7 }, probe: eu-web, probeAddress: 127.0.0.1 }
  us: { region: us-east, ipv4: [${ADDRESSES.us}], location: { lat: 38.9, lon: -77.0 }, probe: us-web, probeAddress: 127.0.0.1 }
  ap: { region: ap-southeast, ipv4: [${ADDRESSES.ap}], location: { lat: 1.35, lon: 103.8 }, probe: ap-web, probeAddress: 127.0.0.1 }
names:
  www:
    ttl: 2
    policy:
      - health: {}
      - geo:
          rules:
            - continents: [EU]
              targets: [eu, us]
              chain: [{ failover: { groups: [{ targets: [eu] }, { targets: [us] }] } }]
            - continents: [NA]
              targets: [us]
            - continents: [AS, OC]
              targets: [ap]
          default: { targets: [us] }
`;
}

/**
 * Starts the regions and meridian: the admin API on an ephemeral loopback port when asked,
 * with `adminToken` as its one (read-write) token when given.
 */
export async function startWorld(opts: { admin?: boolean; adminToken?: string } = {}): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-e2e-'));
  const regions = { eu: new RegionServer(), us: new RegionServer(), ap: new RegionServer() };
  try {
    for (const r of Object.values(regions)) await r.start();
    const zones = path.join(dir, 'zones');
    fs.mkdirSync(zones);
    fs.writeFileSync(path.join(zones, 'example.com.zone'), ZONE);
    fs.writeFileSync(path.join(zones, 'example.com.policy.yaml'), policy({ eu: regions.eu.port, us: regions.us.port, ap: regions.ap.port }));
    const config = path.join(dir, 'meridian.yaml');
    const tokens = opts.adminToken ? `admin:\n  tokens:\n    - { name: e2e, token: "${opts.adminToken}", access: write }\n` : '';
    fs.writeFileSync(config, `geoip:\n  location: ${path.join(projectRoot, 'test/fixtures/geoip/GeoIP2-City-Test.mmdb')}\nlog:\n  level: silent\n${tokens}`);
    const server = await startTestServer(zones, config, opts.admin ? { admin: '127.0.0.1:0' } : {});
    return {
      dir,
      server,
      regions,
      async close() {
        await server.close();
        for (const r of Object.values(regions)) await r.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const r of Object.values(regions)) await r.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
