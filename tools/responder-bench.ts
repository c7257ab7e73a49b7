/**
 * Micro-benchmark of the query path without the kernel: Responder.respond() in a loop over
 * prebuilt packets of each dnsperf mix (tools/perf/dnsperf-run.ts), on the example zones.
 * Shows what one query costs in CPU, which a loaded 2-core machine makes hard to see with
 * dnsperf alone.
 *   node dist/tools/responder-bench.js [--seconds 3] [--mix static|steered|steered-ecs] [--config meridian.yaml] [--option CODE:HEX] [--dnssec-ok]
 * --config turns on what that file turns on (cookies, RRL, NSID...); --option adds an EDNS
 * option to every query instead of the mix's own (e.g. 10:0102030405060708, a client cookie);
 * --dnssec-ok sets DO in every query (with a config that signs example.com: signed answers).
 */
import dnsPacket from 'dns-packet';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/log/logger.js';
import { startServer } from '../src/main.js';
import { MIXES, root } from './perf/dnsperf-run.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, mix: { type: 'string' }, config: { type: 'string' }, option: { type: 'string' }, 'dnssec-ok': { type: 'boolean' } },
});
const seconds = Number(values.seconds);

/** A query as dnsperf sends it: EDNS with a 4096 payload, and the mix's option when it has one. */
function packetOf(line: string, ecs: string | undefined): Buffer {
  const [name, type] = line.split(' ');
  const options = ecs === undefined ? [] : [{ code: Number(ecs.split(':')[0]), data: Buffer.from(ecs.split(':')[1]!, 'hex') }];
  return dnsPacket.encode({
    type: 'query',
    id: 1,
    questions: [{ name: name!, type: type as dnsPacket.RecordType, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: values['dnssec-ok'] ? dnsPacket.DNSSEC_OK : 0, options } as unknown as dnsPacket.Answer],
  });
}

const config = loadConfig(values.config ?? null, { listen: ['127.0.0.1:0'], zonesDir: path.join(root, 'zones'), admin: null, logLevel: 'warn' });
const server = await startServer({ ...config, zones: { ...config.zones, watch: false } }, createLogger('warn', false));
try {
  for (const mix of MIXES.filter((m) => values.mix === undefined || m.id === values.mix)) {
    const packets = mix.queries.map((q) => packetOf(q, values.option ?? mix.ecs));
    let n = 0;
    const end = performance.now() + seconds * 1000;
    const warm = performance.now() + 500;
    while (performance.now() < warm) for (const p of packets) server.responder.respond(p, 'udp', '127.0.0.1');
    const started = performance.now();
    // CPU time as well as wall time: on a shared machine the wall clock counts other processes' turns.
    const cpuStarted = process.cpuUsage();
    while (performance.now() < end) {
      for (let i = 0; i < 1000; i++) {
        server.responder.respond(packets[i % packets.length]!, 'udp', '127.0.0.1');
      }
      n += 1000;
    }
    const secs = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    const cpuNs = ((cpu.user + cpu.system) * 1000) / n;
    console.log(`${mix.name.padEnd(40)} ${((n / secs) | 0).toString().padStart(9)} responses/s   ${((secs * 1e9) / n).toFixed(0).padStart(5)} ns each   ${cpuNs.toFixed(0).padStart(5)} ns CPU each`);
  }
} finally {
  await server.close();
}
