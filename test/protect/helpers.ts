/** Starting the real server with a YAML config a test writes, and reading EDNS options from answers. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { fixtureZones } from '../support/test-server.js';

export interface ConfiguredServer {
  readonly server: RunningServer;
  /** UDP/TCP port of each listen address, in order. */
  readonly ports: readonly number[];
  readonly dir: string;
  stop(): Promise<void>;
}

/** The server on `listen` (ephemeral ports) with `yaml` as its config file, serving the fixture zones (or `zonesDir`). */
export async function startConfigured(yaml: string, listen: string[] = ['127.0.0.1:0'], zonesDir = fixtureZones): Promise<ConfiguredServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-protect-'));
  const file = path.join(dir, 'meridian.yaml');
  fs.writeFileSync(file, `health: { stateFile: null }\nzones: { watch: false }\nadmin: { listen: null }\n${yaml}`);
  let server: RunningServer;
  try {
    server = await startServer(loadConfig(file, { listen, zonesDir, logLevel: 'silent' }, {}), pino({ level: 'silent' }));
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    server,
    ports: server.addresses.map((a) => a.port),
    dir,
    stop: async () => {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The EDNS options of an answer's OPT record, by code (the first of each), or null when it has no OPT. */
export function ednsOptions(raw: Buffer): Map<number, Buffer> | null {
  let pos = 12;
  const skipName = (): void => {
    for (;;) {
      const len = raw[pos]!;
      if (len === 0) {
        pos++;
        return;
      }
      if ((len & 0xc0) === 0xc0) return void (pos += 2);
      pos += len + 1;
    }
  };
  const qd = raw.readUInt16BE(4);
  for (let i = 0; i < qd; i++) {
    skipName();
    pos += 4;
  }
  const records = raw.readUInt16BE(6) + raw.readUInt16BE(8) + raw.readUInt16BE(10);
  for (let i = 0; i < records; i++) {
    const start = pos;
    skipName();
    const type = raw.readUInt16BE(pos);
    const rdlen = raw.readUInt16BE(pos + 8);
    if (type === 41 && pos === start + 1) {
      const options = new Map<number, Buffer>();
      for (let p = pos + 10; p < pos + 10 + rdlen;) {
        const code = raw.readUInt16BE(p);
        const len = raw.readUInt16BE(p + 2);
        if (!options.has(code)) options.set(code, raw.subarray(p + 4, p + 4 + len));
        p += 4 + len;
      }
      return options;
    }
    pos += 10 + rdlen;
  }
  return null;
}

/** The full RCODE of an answer: the header's four bits and the OPT's extended eight (RFC 6891 §6.1.3). */
export function fullRcode(raw: Buffer): number {
  // The OPT we write is the last record: find it from the end.
  const low = raw[3]! & 0x0f;
  for (let pos = raw.length - 11; pos >= 12; pos--) {
    if (raw[pos] === 0 && raw.readUInt16BE(pos + 1) === 41 && pos + 11 + raw.readUInt16BE(pos + 9) === raw.length) return (raw[pos + 5]! << 4) | low;
  }
  return low;
}
