/**
 * `package.json` `files` (issue 17 item 11): a packed meridian holds what a user runs (the
 * compiled server, its worker and thread entry points, the default GeoIP database, the example
 * zones, the published schemas, the licences, README) and none of the tests, tools or sources.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../support/test-server.js';

function jsUnder(dir: string): string[] {
  return fs
    .readdirSync(path.join(projectRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => `${dir}/${f.split(path.sep).join('/')}`);
}

it('npm pack holds the runtime files and no test, tool or TypeScript source', async () => {
  // --ignore-scripts: prepack would rebuild dist/ under the other tests running from it
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: projectRoot, maxBuffer: 16 << 20 });
  const packed = new Set((JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const must = [
    ...Object.values(pkg.bin),
    ...jsUnder('dist/src'),
    'geoip/geo-whois-asn-country.mmdb',
    'geoip/LICENSE-geo-whois-asn-country.txt',
    'src/geoip/LICENSE-country-centroids.txt',
    'zones/example.com.zone',
    'zones/example.com.policy.yaml',
    'schemas/config.schema.json',
    'schemas/policy.schema.json',
    'schemas/balancer.schema.json',
    // the install script builds the native UDP layer from these
    'native/build.mjs',
    'native/udp/binding.gyp',
    'native/udp/udp.cc',
    'LICENSE',
    'README.md',
    'package.json',
  ];
  assert.ok(must.length > 100);
  assert.deepEqual(
    must.filter((f) => !packed.has(f)),
    [],
    'missing from the package',
  );
  const unwanted = [...packed].filter(
    (f) => /^(dist\/)?(test|tools)\//.test(f) || f.endsWith('.ts') || f.endsWith('.map') || f.startsWith('node_modules/') || f.startsWith('deploy/') || f.startsWith('native/udp/build/'),
  );
  assert.deepEqual(unwanted, [], 'in the package but not run by a user');
});
