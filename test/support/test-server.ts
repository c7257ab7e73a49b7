/** Starts the real server in-process on an ephemeral loopback port, for integration tests. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { startServer, type RunningServer } from '../../src/main.js';

/** The project root, from dist/test/support/ or test/support/. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');
export const fixtureZones = path.join(projectRoot, 'test/fixtures/zones');

export interface TestServer extends RunningServer {
  readonly port: number;
}

export async function startTestServer(
  zonesDir = fixtureZones,
  configFile: string | null = null,
  extra: { watch?: boolean; admin?: string; udpSocket?: 'native' | 'dgram'; listen?: string; clock?: () => number; log?: Logger } = {},
): Promise<TestServer> {
  const base = loadConfig(configFile, { listen: [extra.listen ?? '127.0.0.1:0'], zonesDir, logLevel: 'silent' }, {});
  // Health state stays in memory, no audit file is kept, and the admin API is off unless a
  // test asks for it: tests must not share state through a file or a fixed port.
  const config = {
    ...base,
    dns: { ...base.dns, udpSocket: extra.udpSocket ?? base.dns.udpSocket },
    zones: { ...base.zones, watch: extra.watch ?? false },
    health: { ...base.health, stateFile: null },
    admin: { ...base.admin, listen: extra.admin ?? null, audit: { ...base.admin.audit, file: null } },
  };
  const server = await startServer(config, extra.log ?? pino({ level: 'silent' }), extra.clock === undefined ? {} : { clock: extra.clock });
  return Object.assign(server, { port: server.addresses[0]!.port });
}
