/**
 * Issue #18 item 4: the dependency rules of .dependency-cruiser.cjs (run by `npm run check:deps`
 * before the tests) catch a new violation, skip only the KNOWN ones, and list no KNOWN import
 * that has gone. The violations are written into a scratch tree that has the repository's
 * config, package.json and node_modules, and cruised there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../support/test-server.js';

const config = path.join(projectRoot, '.dependency-cruiser.cjs');
const depcruise = path.join(projectRoot, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const known = (createRequire(import.meta.url)(config) as { known: [string, string, number][] }).known;

interface Violation { readonly from: string; readonly to: string; readonly rule: { readonly name: string } }
interface Cruise {
  readonly modules: readonly { readonly source: string; readonly dependencies: readonly { readonly resolved: string }[] }[];
  readonly summary: { readonly violations: readonly Violation[] };
}

function cruise(cwd: string, roots: string[]): Cruise {
  const run = spawnSync(process.execPath, [depcruise, '-c', config, '-T', 'json', ...roots], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(run.stdout.startsWith('{'), `depcruise printed no report: ${run.stderr}`);
  return JSON.parse(run.stdout) as Cruise;
}

describe('dependency rules', () => {
  let tree = '';
  const files: Record<string, string> = {
    // allowed: down the layers, inside a folder, a tool using test/support, the demo's test
    'src/cli/ok.ts': "import '../main.js';",
    'src/main.ts': "import './zone/zone.js';",
    'src/zone/rdata/ok.ts': "import '../zone.js'; import '../../dns/name.js';",
    'src/dns/name.ts': '',
    'src/answer/responder.ts': "import '../steer/decide.js';",
    'src/steer/decide.ts': "import '../zone/zone.js'; import '../health/types.js';",
    'src/steer/policy-file.ts': '',
    'src/health/types.ts': '',
    'src/health/health-monitor.ts': '',
    'tools/ok.ts': "import '../test/support/helper.js';",
    'test/support/helper.ts': "import '../../src/dns/name.js';",
    'test/demo/ok.test.ts': "import '../../tools/demo/topology.js';",
    'tools/demo/topology.ts': '',
    'src/zone/zone.ts': '',
    // violations
    'src/zone/up.ts': "import '../cli/ok.js';",
    'src/newfolder/unplaced.ts': "import '../dns/name.js';",
    'src/dns/codec.ts': "import '../answer/responder.js';",
    'src/health/probe.ts': "import '../steer/decide.js';",
    'src/storage/oops.ts': "import 'dns-packet'; import 'ws'; import '../../test/support/helper.js';",
    'tools/bad.ts': "import '../test/zone/some.test.js';",
    'test/zone/some.test.ts': "import '../../tools/ok.js';",
    'test/support/bad.ts': "import '../../tools/demo/topology.js';",
    'test/demo/bad.test.ts': "import '../../tools/ok.js';",
  };

  // The first KNOWN import is skipped; the same file importing a neighbour of its target is not.
  const [knownFrom, knownTo] = known[0] ?? [];
  const neighbour = knownTo === undefined ? undefined : path.posix.join(path.posix.dirname(knownTo), 'neighbour.ts');
  if (knownFrom !== undefined && knownTo !== undefined && neighbour !== undefined) {
    const rel = (to: string) => `./${path.posix.relative(path.posix.dirname(knownFrom), to)}`.replace(/^\.\/\.\.\//, '../').replace(/\.ts$/, '.js');
    files[knownFrom] = `import '${rel(knownTo)}'; import '${rel(neighbour)}';`;
    files[knownTo] ??= '';
    files[neighbour] = '';
  }

  before(() => {
    tree = mkdtempSync(path.join(tmpdir(), 'meridian-deps-'));
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.join(tree, path.dirname(file)), { recursive: true });
      writeFileSync(path.join(tree, file), `${text}\nexport {};\n`);
    }
    copyFileSync(path.join(projectRoot, 'package.json'), path.join(tree, 'package.json'));
    symlinkSync(path.join(projectRoot, 'node_modules'), path.join(tree, 'node_modules'));
  });
  after(() => { if (tree !== '') rmSync(tree, { recursive: true, force: true }); });

  it('reports each new violation, and nothing that is allowed or KNOWN', () => {
    const violations = cruise(tree, ['src', 'test', 'tools']).summary.violations;
    const found = violations.filter((v) => v.from !== knownFrom)
      .map((v) => `${v.from} -> ${v.to.replace(/^.*\/node_modules\//, 'node_modules/')}: ${v.rule.name}`).sort();
    const ofKnownFile = violations.filter((v) => v.from === knownFrom).map((v) => `${v.from} -> ${v.to}`);
    assert.deepEqual(ofKnownFile, knownFrom === undefined ? [] : [`${knownFrom} -> ${neighbour}`]);
    assert.deepEqual(found, [
      'src/dns/codec.ts -> src/answer/responder.ts: layers: dns imports answer',
      'src/health/probe.ts -> src/steer/decide.ts: layers: health imports steer',
      'src/newfolder/unplaced.ts -> src/dns/name.ts: src file in no listed folder',
      'src/storage/oops.ts -> node_modules/dns-packet/index.js: src imports dns-packet',
      'src/storage/oops.ts -> node_modules/ws/index.js: src imports a devDependency',
      'src/storage/oops.ts -> test/support/helper.ts: src imports test or tools',
      'src/zone/up.ts -> src/cli/ok.ts: layers: zone imports cli',
      'test/demo/bad.test.ts -> tools/ok.ts: demo test imports other tools',
      'test/support/bad.ts -> tools/demo/topology.ts: tests import tools',
      'test/zone/some.test.ts -> tools/ok.ts: tests import tools',
      'tools/bad.ts -> test/zone/some.test.ts: tools import test files',
    ]);
  });

  it('lists no KNOWN exception whose import has gone (remove it when its item lands)', () => {
    const edges = new Set(cruise(projectRoot, ['src']).modules.flatMap((m) => m.dependencies.map((d) => `${m.source} -> ${d.resolved}`)));
    const stale = known.filter(([from, to]) => !edges.has(`${from} -> ${to}`)).map(([from, to, item]) => `${from} -> ${to} (item ${item})`);
    assert.deepEqual(stale, [], 'KNOWN in .dependency-cruiser.cjs lists imports that no longer exist: delete them');
  });
});
