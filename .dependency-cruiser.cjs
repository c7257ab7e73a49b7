// Dependency rules checked by `npm run check:deps` (the first step of `npm test`).
// The layering is written out in src/README.md "Layers"; this file is its machine-checked form.
// A module of src/ imports its own folder or one listed below it in FOLDERS, never one above, so
// the folders form no cycle; test/ and tools/ import each other only where `testToolRules` says.
// KNOWN lists today's violations, each with the item of issue #18 that removes it. A new
// violation fails the check; a KNOWN entry that no longer matches any import fails
// test/structure/dependency-rules.test.ts, so the list only shrinks.
'use strict';

// Folders in order, top first, grouped in layers (src/README.md "Layers" says why each sits
// where it does). A module imports its own folder or a folder listed below it, never one above,
// so folders form no cycle: a cycle needs an upward import. `files` are regular expressions over
// paths from the repository root.
// Each folder's core types live in its types.ts (item 1): plain data any layer may name.
const TYPES_FILES = '^src/[^/]+/types\\.ts$';
const folder = (name) => `^src/${name}/`;
const FOLDERS = [
  { layer: 'commands', name: 'cli', files: [folder('cli')], not: [TYPES_FILES] },
  { layer: 'wiring', name: 'main.ts', files: ['^src/main\\.ts$'] },
  { layer: 'services', name: 'l7', files: [folder('l7')], not: [TYPES_FILES] },
  { layer: 'services', name: 'workers', files: [folder('workers')], not: [TYPES_FILES] },
  { layer: 'services', name: 'admin', files: [folder('admin')], not: [TYPES_FILES] },
  { layer: 'services', name: 'supervisor', files: [folder('supervisor')], not: [TYPES_FILES] },
  { layer: 'control', name: 'control', files: [folder('control')], not: [TYPES_FILES] },
  { layer: 'control', name: 'server', files: [folder('server')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'answer', files: [folder('answer')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'explain', files: [folder('explain')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'resolve', files: [folder('resolve')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'snapshot', files: [folder('snapshot')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'metrics', files: [folder('metrics')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'log', files: [folder('log')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'protect', files: [folder('protect')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'steer', files: [folder('steer')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'health', files: [folder('health')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'cluster', files: [folder('cluster')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'storage', files: [folder('storage')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'zone', files: [folder('zone')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'geoip', files: [folder('geoip')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'config', files: [folder('config')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'problems', files: [folder('problems')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'types.ts', files: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'dns', files: [folder('dns')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'net', files: [folder('net')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'errors.ts, version.ts', files: ['^src/(errors|version)\\.ts$'] },
];

// Today's violations: [from, to, issue #18 item that removes it]. The rule skips exactly the
// listed import; every other import of the same file is still checked.
const KNOWN = [
  // item 3: loading a zone with its policy file and journal is built in one place, in the control plane
  ['src/zone/zone-directory.ts', 'src/steer/policy-file.ts', 3],
  ['src/zone/zone-directory.ts', 'src/storage/journal.ts', 3],
  ['src/zone/zone-load-thread.ts', 'src/steer/policy-file.ts', 3],
];

const either = (list) => (list.length === 0 ? undefined : list.length === 1 ? list[0] : `(${list.join('|')})`);
const exact = (path) => `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;

const layerOf = (file) => FOLDERS.findIndex((layer) =>
  layer.files.some((p) => new RegExp(p).test(file)) && !(layer.not ?? []).some((p) => new RegExp(p).test(file)));

// Upward imports: one rule per (lower layer, higher layer) pair, so each layer's `not` holds.
// A file with a KNOWN exception gets rules of its own that skip only its listed imports.
function layerRules() {
  const rules = [];
  const knownFiles = [...new Set(KNOWN.map(([from]) => from))];
  for (let low = 1; low < FOLDERS.length; low++) {
    const from = FOLDERS[low];
    const known = knownFiles.filter((file) => layerOf(file) === low);
    for (let high = 0; high < low; high++) {
      const to = FOLDERS[high];
      const rule = (fromRestriction, toNot) => ({
        name: `layers: ${from.name} imports ${to.name}`,
        comment: `${from.name} (${from.layer}) is below ${to.name} (${to.layer}): src/README.md "Layers"`,
        severity: 'error',
        from: fromRestriction,
        to: compact({ path: either(to.files), pathNot: either([...(to.not ?? []), ...toNot]) }),
      });
      rules.push(rule(compact({ path: either(from.files), pathNot: either([...(from.not ?? []), ...known.map(exact)]) }), []));
      for (const file of known) {
        rules.push(rule({ path: exact(file) }, KNOWN.filter(([f]) => f === file).map(([, t]) => exact(t))));
      }
    }
  }
  return rules;
}

const compact = (object) => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));

// With no KNOWN exception left the order alone proves the folders acyclic; this rule says it
// again in dependency-cruiser's own words (it cannot skip single imports, so it waits until then).
const cycleRules = () => KNOWN.length > 0 ? [] : [{
  name: 'no-folder-cycle',
  comment: 'folders of src/ import each other in one direction only',
  severity: 'error',
  scope: 'folder',
  // Subfolders (zone/rdata, steer/filters …) belong to their folder: cycles inside one are fine.
  from: { path: '^src/([^/]+)' },
  to: { circular: true, pathNot: '^src/$1(/|$)' },
}];

// test/ and tools/: tools may use the shared helpers in test/support/, nothing else of test/;
// test/support/ never imports tools/ (the helpers stay below both); a test imports a tool only
// to test that tool (test/demo/ runs the demo of tools/demo/). src/ imports neither.
const testToolRules = [
  {
    name: 'tools import test files',
    comment: 'tools use test/support/ only; a helper both need moves there',
    severity: 'error',
    from: { path: '^tools/' },
    to: { path: '^test/', pathNot: '^test/support/' },
  },
  {
    name: 'tests import tools',
    comment: 'test/support/ is below tools/; only test/demo/ tests a tool (tools/demo/)',
    severity: 'error',
    from: { path: '^test/', pathNot: '^test/demo/' },
    to: { path: '^tools/' },
  },
  {
    name: 'demo test imports other tools',
    severity: 'error',
    from: { path: '^test/demo/' },
    to: { path: '^tools/', pathNot: '^tools/demo/' },
  },
  {
    name: 'src imports test or tools',
    severity: 'error',
    from: { path: '^src/' },
    to: { path: '^(test|tools)/' },
  },
  {
    name: 'src imports a devDependency',
    comment: 'devDependencies are not installed with the package',
    severity: 'error',
    from: { path: '^src/' },
    to: { dependencyTypes: ['npm-dev'] },
  },
  {
    name: 'src imports dns-packet',
    comment: 'dns-packet is the independent decoder of the tests and tools; the server has its own codecs',
    severity: 'error',
    from: { path: '^src/' },
    to: { path: '(^|/)node_modules/dns-packet/' },
  },
];

// A new folder (or a file beside main.ts) is checked only once FOLDERS places it.
const placeRule = {
  name: 'src file in no listed folder',
  comment: 'add its folder to FOLDERS in .dependency-cruiser.cjs and a line to src/README.md "Layers"',
  severity: 'error',
  from: { path: '^src/', pathNot: either(FOLDERS.flatMap((f) => f.files)) },
  to: {},
};

module.exports = {
  forbidden: [...layerRules(), ...cycleRules(), placeRule, ...testToolRules],
  options: {
    // TypeScript 7 has no compiler API that dependency-cruiser can load; swc parses the sources.
    parser: 'swc',
    // Type-only imports are dependencies too (a layer must not name a higher layer's types).
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    // Sources import `./x.js`; resolve that to the `./x.ts` beside it.
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

// For test/structure/dependency-rules.test.ts; not enumerable, so the config schema ignores it.
Object.defineProperty(module.exports, 'known', { value: KNOWN, enumerable: false });
