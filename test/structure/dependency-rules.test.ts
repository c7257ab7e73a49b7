/**
 * Issue #18 item 4: the dependency rules of .dependency-cruiser.cjs (run by `npm run check:deps`
 * before the tests) report each kind of violation, upward imports and folder cycles (those that
 * only the types.ts files make too), and nothing that is allowed. The imports are written into
 * a scratch tree that has the repository's config, package.json and node_modules, and cruised there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../support/test-server.js';

const config = path.join(projectRoot, '.dependency-cruiser.cjs');
const depcruise = path.join(projectRoot, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}
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
    // allowed: down the layers, inside a folder, types.ts from anywhere (no cycle), a tool using test/support, the demo's test
    'src/cli/ok.ts': "import '../main.js';",
    'src/main.ts': "import './dns/name.js';",
    'src/zone/rdata/ok.ts': "import '../zone.js'; import '../../dns/name.js';",
    'src/dns/name.ts': '',
    'src/answer/responder.ts': "import '../steer/decide.js';",
    'src/zone/zone.ts': "import '../steer/types.js'; import '../health/types.js';",
    'src/steer/decide.ts': "import './types.js';",
    'src/steer/types.ts': '',
    'src/health/types.ts': '',
    'src/geoip/locate.ts': "import '../steer/types.js';",
    'tools/ok.ts': "import '../test/support/helper.js';",
    'test/support/helper.ts': "import '../../src/dns/name.js';",
    'test/demo/ok.test.ts': "import '../../tools/demo/topology.js';",
    'tools/demo/topology.ts': '',
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
    // folder cycles that no layer rule sees: each import goes down, or to a types.ts
    'src/config/limits.ts': "import '../health/types.js';",
    'src/health/budget.ts': "import '../config/limits.js';",
    'src/log/types.ts': "import '../protect/types.js';",
    'src/protect/types.ts': "import '../log/types.js';",
  };

  before(() => {
    tree = mkdtempSync(path.join(tmpdir(), 'meridian-deps-'));
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.join(tree, path.dirname(file)), { recursive: true });
      writeFileSync(path.join(tree, file), `${text}\nexport {};\n`);
    }
    copyFileSync(path.join(projectRoot, 'package.json'), path.join(tree, 'package.json'));
    symlinkSync(path.join(projectRoot, 'node_modules'), path.join(tree, 'node_modules'));
  });
  after(() => {
    if (tree !== '') rmSync(tree, { recursive: true, force: true });
  });

  it('reports each new violation and folder cycle, and nothing that is allowed', () => {
    const violations = cruise(tree, ['src', 'test', 'tools']).summary.violations;
    const found = violations.map((v) => `${v.from} -> ${v.to.replace(/^.*\/node_modules\//, 'node_modules/')}: ${v.rule.name}`).sort();
    assert.deepEqual(found, [
      'src/config -> src/health: no-folder-cycle',
      'src/dns/codec.ts -> src/answer/responder.ts: layers: dns imports answer',
      'src/health -> src/config: no-folder-cycle',
      'src/health/probe.ts -> src/steer/decide.ts: layers: health imports steer',
      'src/log -> src/protect: no-folder-cycle',
      'src/newfolder/unplaced.ts -> src/dns/name.ts: src file in no listed folder',
      'src/protect -> src/log: no-folder-cycle',
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
});
