// Dependency rules checked by `npm run check:deps` (the first step of `npm test`).
// The layering is written out in src/README.md "Layers"; this file is its machine-checked form.
// A module of src/ imports its own folder or one listed below it in FOLDERS, never one above,
// and the folders of src/ form no cycle (both checked, with no exception); test/ and tools/
// import each other only where `testToolRules` says. An import that breaks a rule is fixed by
// moving code to where it belongs, never listed as an exception: issue #18 item 4 removed the
// last ones. test/structure/dependency-rules.test.ts plants a violation of each rule and checks
// that it is reported.
'use strict';

// Folders in order, top first, grouped in layers (src/README.md "Layers" says why each sits
// where it does). A module imports its own folder or a folder listed below it, never one above.
// `files` are regular expressions over paths from the repository root.
// Each folder's core types live in its types.ts (item 1): plain data any layer may name, so the
// types.ts files sit together low in the vocabulary, and import only each other and what lies
// below them. cycleRule below keeps that from joining two folders in a cycle.
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
  { layer: 'control', name: 'transfer', files: [folder('transfer')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'answer', files: [folder('answer')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'explain', files: [folder('explain')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'dnssec', files: [folder('dnssec')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'resolve', files: [folder('resolve')], not: [TYPES_FILES] },
  { layer: 'data plane', name: 'snapshot', files: [folder('snapshot')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'metrics', files: [folder('metrics')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'log', files: [folder('log')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'protect', files: [folder('protect')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'storage', files: [folder('storage')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'zone', files: [folder('zone')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'steer', files: [folder('steer')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'health', files: [folder('health')], not: [TYPES_FILES] },
  { layer: 'domain', name: 'cluster', files: [folder('cluster')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'geoip', files: [folder('geoip')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'config', files: [folder('config')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'problems', files: [folder('problems')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'types.ts', files: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'dns', files: [folder('dns')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'net', files: [folder('net')], not: [TYPES_FILES] },
  { layer: 'vocabulary', name: 'errors.ts, version.ts', files: ['^src/(errors|version)\\.ts$'] },
];

const either = (list) => (list.length === 0 ? undefined : list.length === 1 ? list[0] : `(${list.join('|')})`);

// Upward imports: one rule per (lower folder, higher folder) pair, so each entry's `not` holds.
function layerRules() {
  const rules = [];
  for (let low = 1; low < FOLDERS.length; low++) {
    const from = FOLDERS[low];
    for (let high = 0; high < low; high++) {
      const to = FOLDERS[high];
      rules.push({
        name: `layers: ${from.name} imports ${to.name}`,
        comment: `${from.name} (${from.layer}) is below ${to.name} (${to.layer}): src/README.md "Layers"`,
        severity: 'error',
        from: compact({ path: either(from.files), pathNot: either(from.not ?? []) }),
        to: compact({ path: either(to.files), pathNot: either(to.not ?? []) }),
      });
    }
  }
  return rules;
}

const compact = (object) => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));

// The layer rules let every folder import the types.ts files (plain data, in the vocabulary
// layer), so on their own they would let two folders meet in a cycle through one: zone/ naming
// steer/types.ts while steer/ imports zone/. This rule counts a types.ts as part of its folder,
// as it is, and so states that the folders themselves form no cycle. (That is why zone/, whose
// zones hold steered names and monitored targets, sits above steer/ and health/.)
const cycleRule = {
  name: 'no-folder-cycle',
  comment: 'folders of src/ import each other in one direction only, types.ts files included: src/README.md "Layers"',
  severity: 'error',
  scope: 'folder',
  // Subfolders (zone/rdata, steer/filters …) belong to their folder: cycles inside one are fine.
  from: { path: '^src/([^/]+)' },
  to: { circular: true, pathNot: '^src/$1(/|$)' },
};

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
  forbidden: [...layerRules(), cycleRule, placeRule, ...testToolRules],
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
