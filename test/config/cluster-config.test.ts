/**
 * Cluster mode's settings (issue #13): `cluster:` in the file, `--cluster` and
 * MERIDIAN_CLUSTER. A value the NATS client could not use is refused at load, with file:line
 * and the field (or the flag) named; without any, the server is one node and needs no NATS.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';

function withFile<T>(text: string, run: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-cluster-conf-'));
  try {
    const file = path.join(dir, 'meridian.yaml');
    fs.writeFileSync(file, text);
    return run(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('cluster config', () => {
  it('is off by default: no servers, nothing else needed', () => {
    const c = loadConfig(null, {}, {});
    assert.deepEqual(c.cluster.servers, []);
    assert.equal(c.cluster.bucket, 'meridian');
    assert.equal(c.cluster.replicas, 1);
  });

  it('takes servers from the file, --cluster (which wins) and MERIDIAN_CLUSTER', () => {
    withFile('cluster:\n  servers: ["nats://10.0.0.1:4222", "tls://[2001:db8::1]:4222"]\n  replicas: 3\n', (file) => {
      assert.deepEqual(loadConfig(file, {}, {}).cluster.servers, ['nats://10.0.0.1:4222', 'tls://[2001:db8::1]:4222']);
      assert.deepEqual(loadConfig(file, { cluster: 'nats://a:4222, nats://b:4223' }, {}).cluster.servers, ['nats://a:4222', 'nats://b:4223']);
      assert.deepEqual(loadConfig(file, { cluster: 'off' }, {}).cluster.servers, []);
    });
    assert.deepEqual(loadConfig(null, {}, { MERIDIAN_CLUSTER: 'nats://n:4222' }).cluster.servers, ['nats://n:4222']);
  });

  const cases: Array<[string, string, number, RegExp]> = [
    ['a server without a scheme', 'cluster:\n  servers: ["10.0.0.1:4222"]\n', 2, /cluster\.servers/],
    ['a server with http://', 'cluster:\n  servers: ["http://n:4222"]\n', 2, /cluster\.servers/],
    ['a server without a port', 'cluster:\n  servers: ["nats://n"]\n', 2, /cluster\.servers\[0\]: "nats:\/\/n" is not a NATS server URL/],
    ['a port over 65535', 'cluster:\n  servers: ["nats://n:70000"]\n', 2, /cluster\.servers\[0\]/],
    ['servers not a list', 'cluster:\n  servers: nats://n:4222\n', 2, /cluster\.servers/],
    ['replicas 0', 'cluster:\n  replicas: 0\n', 2, /cluster\.replicas/],
    ['replicas 7', 'cluster:\n  replicas: 7\n', 2, /cluster\.replicas/],
    ['a bucket name with a dot', 'cluster:\n  bucket: "a.b"\n', 2, /cluster\.bucket/],
    ['a node name with a space', 'cluster:\n  node: "a b"\n', 2, /cluster\.node/],
    ['a write timeout in seconds', 'cluster:\n  writeTimeoutMs: 5\n', 2, /cluster\.writeTimeoutMs/],
    ['a certificate without its key', 'cluster:\n  tls: { certFile: /etc/c.pem }\n', 2, /cluster\.tls: certFile and keyFile go together/],
    ['a password without a user', 'cluster:\n  password: secret\n', 2, /cluster\.password: needs cluster\.user/],
    ['an unknown key __proto__', 'cluster:\n  __proto__: { servers: ["nats://n:1"] }\n', 1, /cluster\.__proto__: unknown field/],
  ];
  for (const [title, text, line, field] of cases) {
    it(`refuses ${title}, naming the field`, () => {
      withFile(text, (file) => {
        assert.throws(
          () => loadConfig(file, {}, {}),
          (err: Error) => {
            assert.match(err.message, field);
            assert.ok(err.message.includes(`${file}:${line}:`), err.message);
            return true;
          },
        );
      });
    });
  }

  it('refuses a --cluster or MERIDIAN_CLUSTER value that is not a list of NATS URLs, naming it', () => {
    assert.throws(() => loadConfig(null, { cluster: 'nats://a:4222,localhost' }, {}), /--cluster: "localhost" is not a NATS server URL/);
    assert.throws(() => loadConfig(null, {}, { MERIDIAN_CLUSTER: 'nats://a:99999' }), /MERIDIAN_CLUSTER: "nats:\/\/a:99999"/);
  });
});
