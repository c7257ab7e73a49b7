/**
 * `npm run demo`: starts the three-region topology on loopback and waits for Ctrl-C.
 * README "The demo" walks through what to try.
 *   node dist/tools/demo/main.js [--logs]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_PORTS, REGIONS, startDemo } from './topology.js';

const { values } = parseArgs({ options: { logs: { type: 'boolean', default: false } } });
const demo = await startDemo(DEFAULT_PORTS, { logs: values.logs });
const p = demo.ports;
console.log(`meridian demo is running (files in ${demo.dir})

  DNS         127.0.0.1:${p.dns} (UDP and TCP), zone demo.example, www steered
  admin API   http://127.0.0.1:${p.admin}  (token: ${demo.token})
${REGIONS.map((r) => `  ${r.name.padEnd(13)}balancer http://${r.address}:${p.balancer}  admin http://${r.address}:${p.balancer + 1}/status  backends ${r.address}:${p.backend},${p.backend + 1}`).join('\n')}

Try:
  dig @127.0.0.1 -p ${p.dns} www.demo.example +subnet=8.8.8.0/24 +short        # US → us-east
  dig @127.0.0.1 -p ${p.dns} www.demo.example +subnet=193.0.6.0/24 +short      # NL → eu-west
  dig @127.0.0.1 -p ${p.dns} www.demo.example +subnet=202.12.27.0/24 +short    # JP → ap-southeast
  pkill -f 'demo/backend.js eu-west'                                        # kill a region's backends
  curl -s -H 'Authorization: Bearer ${demo.token}' -X POST 127.0.0.1:${p.admin}/v1/regions/us-east/drain
  curl -s -H 'Authorization: Bearer ${demo.token}' '127.0.0.1:${p.admin}/v1/explain?name=www.demo.example&client=193.0.6.0/24'

Ctrl-C stops everything.`);
const stop = (): void => {
  void demo.stop().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
