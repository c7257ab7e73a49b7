// Builds the native UDP socket layer (native/udp) with node-gyp: the package's install script,
// so `npm ci` builds it. Where it cannot be built (another OS, no compiler) meridian uses
// node:dgram and says so once at start; MERIDIAN_REQUIRE_NATIVE=1 (CI, the Docker build)
// makes a failed build fail the install instead, so its tests cannot skip silently.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const required = process.env.MERIDIAN_REQUIRE_NATIVE === '1';

function giveUp(why) {
  if (required) {
    console.error(`meridian: the native UDP socket layer did not build (${why}) and MERIDIAN_REQUIRE_NATIVE=1`);
    process.exit(1);
  }
  console.warn(`meridian: the native UDP socket layer is not built (${why}); node:dgram will be used`);
  process.exit(0);
}

if (process.platform !== 'linux') giveUp(`recvmmsg and IP_PKTINFO are used as Linux has them; this is ${process.platform}`);
if (process.env.MERIDIAN_SKIP_NATIVE === '1' && !required) giveUp('MERIDIAN_SKIP_NATIVE=1');

// npm hands its bundled node-gyp to install scripts; a global one is the second choice.
const candidates = [process.env.npm_config_node_gyp, path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'), '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'];
const gyp = candidates.find((c) => c !== undefined && c !== '' && fs.existsSync(c));
if (gyp === undefined) giveUp('node-gyp not found');

// The headers of the node running us, when its install has them (the official builds and the
// npm registry's node-linux-* packages do): node-gyp then downloads nothing.
const args = [gyp, 'rebuild', '--directory', path.join(here, 'udp')];
// npm's own config may name other headers (Debian's npm sets nodedir=/usr, its own node's),
// and node-gyp prefers npm_config_nodedir to --nodedir: set both.
const nodeDir = path.resolve(path.dirname(process.execPath), '..');
const env = { ...process.env };
if (fs.existsSync(path.join(nodeDir, 'include/node/node_api.h'))) {
  args.push(`--nodedir=${nodeDir}`);
  env.npm_config_nodedir = nodeDir;
}
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
if (r.status !== 0) giveUp(r.error ? r.error.message : `node-gyp exited with ${r.status ?? r.signal}`);
