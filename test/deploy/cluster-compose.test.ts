/**
 * deploy/docker-compose.cluster.yml (issue #13): three meridian nodes and one NATS server with
 * JetStream. Docker is not run here; the file is read as compose reads it (YAML merge keys)
 * and each node's command is checked to start: its config file loads with the server's own
 * loader under the node's flags and environment, its --cluster URL is the NATS service's
 * client port, and no two services publish the same host port.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig, parseClusterServers } from '../../src/config/load-config.js';
import { projectRoot } from '../support/test-server.js';

interface Service {
  image?: string;
  hostname?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const deploy = path.join(projectRoot, 'deploy');
const compose = parse(fs.readFileSync(path.join(deploy, 'docker-compose.cluster.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const nodes = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === 'serve');
const TOKEN = 'compose-test-token-0123456789';

/** The value after `flag` in a command. */
const flag = (command: readonly string[], name: string): string => {
  const i = command.indexOf(name);
  assert.ok(i >= 0 && i + 1 < command.length, `${name} is given`);
  return command[i + 1]!;
};

/** Compose's `${VAR:?message}` and `${VAR}`, with MERIDIAN_ADMIN_TOKEN set as an operator sets it. */
const interpolate = (text: string): string => text.replace(/\$\{(\w+)(?::\?[^}]*)?\}/g, (_m, name: string) => (name === 'MERIDIAN_ADMIN_TOKEN' ? TOKEN : assert.fail(`unexpected variable ${name}`)));

/** A short-form port `[IP:]HOST:CONTAINER[/proto]`. */
function port(spec: string): { ip: string; host: number; container: number; proto: string } {
  const m = /^(?:([0-9.]+):)?(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(spec);
  assert.ok(m, `port ${spec}`);
  return { ip: m[1] ?? '0.0.0.0', host: Number(m[2]), container: Number(m[3]), proto: m[4] ?? 'tcp' };
}

/** Where a container path comes from: [source, target] of the volume mounting it. */
function mountOf(s: Service, target: string): string {
  const v = (s.volumes ?? []).map((x) => x.split(':')).find((x) => x[1] === target);
  assert.ok(v, `${target} is mounted`);
  return v[0]!;
}

describe('deploy/docker-compose.cluster.yml', () => {
  const nats = compose.services['nats']!;
  const natsCommand = nats.command ?? [];
  const natsPort = natsCommand.includes('-p') ? Number(flag(natsCommand, '-p')) : 4222;

  it('has one NATS server with JetStream, its store on a volume', () => {
    assert.match(nats.image ?? '', /^nats:/);
    assert.ok(natsCommand.includes('-js') || natsCommand.includes('--jetstream'), 'JetStream on');
    const store = flag(natsCommand, '-sd');
    assert.ok(compose.volumes[mountOf(nats, store)] !== undefined, 'the JetStream store is a named volume');
  });

  it('has three meridian nodes, each in cluster mode on the NATS service, started after it', () => {
    assert.deepEqual(
      nodes.map(([name]) => name),
      ['node-a', 'node-b', 'node-c'],
    );
    for (const [name, s] of nodes) {
      const urls = parseClusterServers(flag(s.command!, '--cluster'), `${name} --cluster`);
      assert.ok(urls.length > 0, `${name}: --cluster names servers`);
      for (const url of urls) assert.equal(url, `nats://nats:${natsPort}`, `${name}: ${url} is the nats service's client port`);
      assert.equal(s.depends_on?.['nats']?.condition, 'service_healthy', `${name} waits for NATS`);
    }
  });

  it("each node's config loads with the server's loader under its flags and environment", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-compose-'));
    try {
      for (const [name, s] of nodes) {
        const command = s.command!;
        // The config file is the repository's, mounted read-only.
        const configIn = flag(command, '--config');
        const source = mountOf(s, configIn);
        assert.ok(s.volumes!.includes(`${source}:${configIn}:ro`), `${name}: the config is mounted read-only`);
        const file = path.resolve(deploy, source);
        assert.ok(fs.existsSync(file), `${name}: ${source} exists`);
        const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
        const config = loadConfig(file, { cluster: flag(command, '--cluster'), zonesDir: tmp }, env);
        assert.deepEqual(config.cluster.servers, [`nats://nats:${natsPort}`], name);
        // The node's name is its host name (cluster.node null): one per node, a valid name.
        assert.equal(config.cluster.node, null);
        assert.match(s.hostname ?? '', /^[A-Za-z0-9_.-]{1,64}$/, `${name}: hostname`);
        assert.deepEqual(config.dns.listen, ['0.0.0.0:5300']);
        assert.equal(config.admin.listen, '0.0.0.0:5380');
        assert.ok(
          config.admin.tokens.some((t) => t.token === TOKEN && t.access === 'write'),
          `${name}: the admin API has the token it needs off loopback`,
        );
        // What it listens on is what it publishes: DNS over UDP and TCP, the admin API on the host's loopback only.
        const ports = (s.ports ?? []).map(port);
        for (const proto of ['udp', 'tcp'])
          assert.ok(
            ports.some((p) => p.container === 5300 && p.proto === proto),
            `${name}: DNS over ${proto} is published`,
          );
        const admin = ports.filter((p) => p.container === 5380);
        assert.equal(admin.length, 1, `${name}: the admin API is published once`);
        assert.equal(admin[0]!.ip, '127.0.0.1', `${name}: the admin API only on the host's loopback`);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('no two nodes share a name, a zones folder or a state folder, and no host port is published twice', () => {
    const distinct = (values: string[], what: string): void => assert.equal(new Set(values).size, values.length, `${what}: ${values.join(', ')}`);
    distinct(
      nodes.map(([, s]) => s.hostname!),
      'node names',
    );
    distinct(
      nodes.map(([, s]) => mountOf(s, flag(s.command!, '--zones'))),
      'zones volumes',
    );
    distinct(
      nodes.map(([, s]) => mountOf(s, '/app/.meridian-state')),
      'state volumes',
    );
    for (const [name, s] of nodes) {
      for (const v of [mountOf(s, flag(s.command!, '--zones')), mountOf(s, '/app/.meridian-state')]) assert.ok(compose.volumes[v] !== undefined, `${name}: ${v} is a named volume`);
    }
    const published = Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((spec) => ({ name, ...port(spec) })));
    for (const p of published) {
      // Two bindings collide when the protocol and port match and either is on every address.
      const clash = published.filter((q) => q !== p && q.proto === p.proto && q.host === p.host && (q.ip === p.ip || q.ip === '0.0.0.0' || p.ip === '0.0.0.0'));
      assert.deepEqual(clash, [], `${p.name} ${p.ip}:${p.host}/${p.proto}`);
    }
  });

  it("README's cluster section points to it", () => {
    const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Cluster mode'), readme.indexOf('\n## ', readme.indexOf('\n## Cluster mode') + 1));
    assert.match(section, /deploy\/docker-compose\.cluster\.yml/);
  });
});
