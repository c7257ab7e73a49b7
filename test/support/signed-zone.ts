/**
 * A served folder for the DNSSEC tests (issue #16): zone files, and a config that signs the
 * zones it names and locates clients with MaxMind's test database (test/fixtures/geoip):
 *   2.3.3.0/24 EU → eu (192.0.2.1), 214.78.120.0/24 NA → us (192.0.2.2),
 *   175.16.199.0/24 AS → ap (192.0.2.3), anywhere else → us.
 */
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from './test-server.js';

export const SUBNETS = { eu: '2.3.3.0/24', us: '214.78.120.0/24', ap: '175.16.199.0/24' } as const;
export const ADDRESSES = { eu: '192.0.2.1', us: '192.0.2.2', ap: '192.0.2.3' } as const;

/** `www` steered by continent. */
export const GEO_POLICY = `targets:
  eu: { region: eu-west, ipv4: [${ADDRESSES.eu}] }
  us: { region: us-east, ipv4: [${ADDRESSES.us}] }
  ap: { region: ap-southeast, ipv4: [${ADDRESSES.ap}] }
names:
  www:
    ttl: 30
    policy:
      - geo:
          rules:
            - { continents: [EU], targets: [eu] }
            - { continents: [NA], targets: [us] }
            - { continents: [AS, OC], targets: [ap] }
          default: { targets: [us] }
`;

/**
 * Writes `files` into `<root>/zones` and `<root>/meridian.yaml` with `dnssecZones` (the YAML
 * lines under dns.dnssec.zones, indented six spaces); returns both paths.
 */
export function writeSignedServer(root: string, files: Record<string, string>, dnssecZones: string): { zonesDir: string; config: string } {
  const zonesDir = path.join(root, 'zones');
  fs.mkdirSync(zonesDir, { recursive: true });
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(zonesDir, file), text);
  const config = path.join(root, 'meridian.yaml');
  fs.writeFileSync(config, `geoip:\n  location: ${path.join(projectRoot, 'test/fixtures/geoip/GeoIP2-City-Test.mmdb')}\ndns:\n  dnssec:\n    zones:\n${dnssecZones}`);
  return { zonesDir, config };
}
