/** The balancer config: defaults, errors with file, line and field, and the README example. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseBalancerConfig } from '../../src/l7/config.js';
import { projectRoot } from '../support/test-server.js';

const problems = (text: string): string[] => {
  try {
    parseBalancerConfig(text, 'b.yaml');
  } catch (err) {
    return (err as { details: string[] }).details;
  }
  return [];
};

describe('balancer config', () => {
  it('fills every default', () => {
    const c = parseBalancerConfig('pools:\n  default:\n    backends:\n      - { id: a, address: 127.0.0.1:9000 }\n', 'b.yaml');
    assert.equal(c.listen, '127.0.0.1:8080');
    assert.equal(c.admin.listen, '127.0.0.1:8081');
    const p = c.pools.default!;
    assert.equal(p.algorithm, 'round-robin');
    assert.deepEqual(p.backends[0], { id: 'a', address: '127.0.0.1:9000', weight: 1, maxConnections: 256, maxRequests: 1024, protocol: 'http1' });
    assert.deepEqual(c.http2, { enabled: true, cleartextListen: null, maxConcurrentStreams: 100, maxStreamsPerConnection: 0, maxResetsPerSec: 100, idleMs: 60_000 });
    assert.deepEqual(p.outlierDetection, { consecutiveErrors: 5, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectedPercent: 50 });
    // Active checks are on unless configured otherwise: a TCP connect every 2 s.
    assert.deepEqual(p.healthCheck, { type: 'tcp', path: '/healthz', expect: [[200, 399]], intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3 });
    assert.deepEqual(p.retries, { attempts: 1, on: ['connect-failure'], budgetPercent: 20, minConcurrent: 3 });
  });

  it('names the field of a bad http2 setting or backend protocol', () => {
    const found = problems('http2:\n  maxConcurrentStreams: 0\npools:\n  default:\n    backends:\n      - { id: a, address: 127.0.0.1:9000, protocol: h3 }\n');
    assert.ok(
      found.some((p) => p.startsWith('b.yaml:2: http2.maxConcurrentStreams:')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('b.yaml:6: pools.default.backends.0.protocol:')),
      found.join('\n'),
    );
    const listen = problems('http2:\n  cleartextListen: nowhere\npools:\n  default:\n    backends:\n      - { id: a, address: 127.0.0.1:9000 }\n');
    assert.ok(
      listen.some((p) => p.startsWith('b.yaml:2: http2.cleartextListen:')),
      listen.join('\n'),
    );
  });

  it('names file, line and field for each problem', () => {
    const text = [
      'listen: nowhere', // 1
      'pools:', // 2
      '  web:', // 3
      '    algorithm: fastest', // 4
      '    hashKey: { source: header }', // 5
      '    backends:', // 6
      '      - { id: a, address: 127.0.0.1:1 }', // 7
      '      - { id: a, address: 127.0.0.1:2, weight: 0 }', // 8
      'routes:', // 9
      '  - { pool: nope }', // 10
    ].join('\n');
    const found = problems(text);
    assert.ok(
      found.some((p) => p.startsWith('b.yaml:4: pools.web.algorithm: ')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('b.yaml:8: pools.web.backends.1.weight: must be >= 1')),
      found.join('\n'),
    );
    const semantic = problems(text.replace('algorithm: fastest', 'algorithm: consistent-hash').replace(', weight: 0', ''));
    assert.deepEqual(semantic, [
      'b.yaml:1: listen: listen address "nowhere": not of the form ADDR:PORT; write ADDR:PORT, e.g. 127.0.0.1:5300 or [::1]:5300',
      'b.yaml:8: pools.web.backends.1.id: "a" is used twice in pool web',
      'b.yaml:5: pools.web.hashKey.name: is required when source is header',
      'b.yaml:10: routes.0.pool: no pool named "nope"',
    ]);
  });

  it('names the allowed retry conditions when retries.on has another', () => {
    const text = 'pools:\n  web:\n    retries: { on: [5xx, sometimes] }\n    backends: [{ id: a, address: "127.0.0.1:1" }]\n';
    assert.deepEqual(problems(text), ['b.yaml:3: pools.web.retries.on.1: must be one of connect-failure, refused-stream, reset-before-response, 5xx']);
    assert.match(problems(text.replace('sometimes', '5xx'))[0]!, /^b\.yaml:3: pools\.web\.retries\.on: must NOT have duplicate items/);
  });

  it('a pool name the pattern refuses is a problem on its line, not a crash (a Record let it through unchecked)', () => {
    for (const name of ['_x', '"a b"', '"a/b"', '__proto__']) {
      const found = problems(`pools:\n  ${name}:\n    backends:\n      - { id: a, address: 127.0.0.1:9000 }\n`);
      assert.equal(found.length, 1, found.join('\n'));
      assert.match(found[0]!, /^b\.yaml:2: pools\..*: invalid key /);
    }
  });

  it('client limits: defaults, bounds, and a request deadline no shorter than the header one', () => {
    const base = 'pools:\n  default:\n    backends:\n      - { id: a, address: 127.0.0.1:9000 }\n';
    assert.deepEqual(parseBalancerConfig(base, 'b.yaml').client, {
      maxHeaderBytes: 16_384,
      bodyIdleMs: 60_000,
      requestMs: 300_000,
      minBodyBytesPerSec: 240,
      bodyRateGraceMs: 5000,
      maxConnectionsPerClient: 256,
    });
    assert.deepEqual(problems(`${base}timeouts: { clientHeadersMs: 20000 }\nclient:\n  requestMs: 10000\n`), [
      'b.yaml:7: client.requestMs: 10000 is shorter than timeouts.clientHeadersMs (20000); the whole request cannot take less time than its header',
    ]);
    assert.match(problems(`${base}client: { maxHeaderBytes: 10, __proto__: 1 }\n`).join('\n'), /b\.yaml:\d+: client/);
  });

  it('accepts the example in README', () => {
    const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    const block = /```yaml\n(# balancer\.yaml\n[\s\S]*?)```/.exec(readme);
    assert.ok(block, 'README has the balancer.yaml example');
    const c = parseBalancerConfig(block[1]!, 'README.md');
    assert.deepEqual(Object.keys(c.pools), ['default', 'api', 'static']);
    assert.equal(c.pools.default!.sticky?.cookie, 'MERIDIAN_BACKEND');
  });
});
