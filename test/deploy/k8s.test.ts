/**
 * deploy/k8s (issue #17 item 7): every manifest validates against the Kubernetes schemas
 * (kubernetes-models, generated from the Kubernetes OpenAPI document), the pods are locked
 * down and probed, Services point at ports that exist, and the ConfigMap's config and zones
 * run: a real `serve` from them, laid out as a ConfigMap volume is, answers DNS and its open
 * /livez and /readyz, while the rest of the admin API still wants the token.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { parseAllDocuments } from 'yaml';
import { loadBalancerConfig } from '../../src/l7/config.js';
import { childEnv, RW_TOKEN } from '../admin/helpers.js';
import { udp } from '../support/dns-client.js';
import { cliPath, servingPortsWithApi, untilServing } from '../support/process.js';
import { projectRoot } from '../support/test-server.js';

const K8S = path.join(projectRoot, 'deploy/k8s');

interface Manifest {
  readonly file: string;
  readonly doc: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };
}

function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of fs
    .readdirSync(K8S)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    for (const d of parseAllDocuments(fs.readFileSync(path.join(K8S, file), 'utf8'))) {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      out.push({ file, doc: d.toJS() as Manifest['doc'] });
    }
  }
  return out;
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
};

type Container = {
  name: string;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number }; tcpSocket?: { port: string | number } };
  resources?: { requests?: { cpu?: string; memory?: string } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: Array<{ name: string }>;
};
type DeploymentDoc = {
  metadata: { name: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: { securityContext?: { runAsNonRoot?: boolean }; containers: Container[]; volumes?: Array<{ name: string }> } };
  };
};
type ServiceDoc = { metadata: { name: string }; spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number; protocol?: string }> } };

describe('Kubernetes manifests', () => {
  it('every document validates against the Kubernetes schema of its kind, all in one namespace', () => {
    const all = manifests();
    const kinds = all.map((m) => `${m.doc.kind}/${m.doc.metadata.name}`);
    for (const want of [
      'Namespace/meridian',
      'ConfigMap/meridian-config',
      'ConfigMap/meridian-zones',
      'Deployment/meridian-dns',
      'Service/meridian-dns',
      'Deployment/meridian-balancer',
      'Service/meridian-balancer',
    ]) {
      assert.ok(kinds.includes(want), `${want} in ${kinds.join(', ')}`);
    }
    for (const { file, doc } of all) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`);
      assert.doesNotThrow(
        () => new Model(doc as never).validate(),
        (err: Error) => `${file} ${doc.kind}/${doc.metadata.name}: ${err.message}`,
      );
      if (doc.kind !== 'Namespace') assert.equal(doc.metadata.namespace, 'meridian', `${file}: ${doc.kind}/${doc.metadata.name} namespace`);
    }
  });

  it('the schemas catch a mistake (a port as text where a number belongs, a missing selector)', () => {
    const dns = manifests().find((m) => m.doc.kind === 'Deployment' && m.doc.metadata.name === 'meridian-dns')!.doc as unknown as DeploymentDoc;
    const badPort = structuredClone(dns);
    (badPort.spec.template.spec.containers[0]!.ports![0] as { containerPort: unknown }).containerPort = 'fifty-three';
    assert.throws(() => new Deployment(badPort as never).validate(), /containerPort/);
    const noSelector = structuredClone(dns) as { spec: Partial<DeploymentDoc['spec']> };
    delete noSelector.spec.selector;
    assert.throws(() => new Deployment(noSelector as never).validate(), /selector/);
  });

  it('pods run as non-root on a read-only root, with no capabilities, resource requests and probes on named ports', () => {
    for (const { doc } of manifests().filter((m) => m.doc.kind === 'Deployment')) {
      const d = doc as unknown as DeploymentDoc;
      const name = d.metadata.name;
      const pod = d.spec.template.spec;
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(d.spec.template.metadata.labels[k], v, `${name}: the selector matches the pod labels`);
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`);
      const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
      for (const c of pod.containers) {
        const where = `${name}/${c.name}`;
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}: read-only root`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where}: no privilege escalation`);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${where}: drops every capability`);
        const low = (c.ports ?? []).some((p) => p.containerPort < 1024);
        assert.deepEqual(c.securityContext?.capabilities?.add ?? [], low ? ['NET_BIND_SERVICE'] : [], `${where}: NET_BIND_SERVICE only for a port below 1024`);
        assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${where}: cpu and memory requests`);
        const named = new Set((c.ports ?? []).map((p) => p.name));
        assert.ok(c.readinessProbe?.httpGet, `${where}: an HTTP readiness probe`);
        assert.ok(c.livenessProbe, `${where}: a liveness probe`);
        for (const port of [c.readinessProbe.httpGet.port, c.livenessProbe.httpGet?.port ?? c.livenessProbe.tcpSocket?.port])
          assert.ok(named.has(String(port)), `${where}: probe port ${port} is a named container port`);
        for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${where}: volume ${m.name} exists`);
      }
    }
  });

  it('each Service selects a Deployment and targets ports it has; DNS is served over UDP and TCP on 53', () => {
    const all = manifests();
    const deployments = all.filter((m) => m.doc.kind === 'Deployment').map((m) => m.doc as unknown as DeploymentDoc);
    for (const { doc } of all.filter((m) => m.doc.kind === 'Service')) {
      const s = doc as unknown as ServiceDoc;
      const d = deployments.find((x) => Object.entries(s.spec.selector).every(([k, v]) => x.spec.template.metadata.labels[k] === v));
      assert.ok(d, `Service ${s.metadata.name} selects a Deployment`);
      const ports = d.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
      for (const p of s.spec.ports) {
        const target = ports.find((cp) => (typeof p.targetPort === 'string' ? cp.name === p.targetPort : cp.containerPort === p.targetPort));
        assert.ok(target, `Service ${s.metadata.name}: targetPort ${p.targetPort} exists`);
        assert.equal(target.protocol ?? 'TCP', p.protocol ?? 'TCP', `Service ${s.metadata.name}: port ${p.port} protocol`);
      }
    }
    const dns = all.find((m) => m.doc.kind === 'Service' && m.doc.metadata.name === 'meridian-dns')!.doc as unknown as ServiceDoc;
    assert.deepEqual(dns.spec.ports.map((p) => `${p.port}/${p.protocol}`).sort(), ['53/TCP', '53/UDP']);
  });

  it('the balancer config to put in its Secret is valid once its token is set, and refused with the placeholder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-k8s-'));
    try {
      const text = fs.readFileSync(path.join(K8S, 'files/balancer.yaml'), 'utf8');
      const file = path.join(dir, 'balancer.yaml');
      fs.writeFileSync(file, text);
      assert.throws(() => loadBalancerConfig(file), /token/);
      fs.writeFileSync(file, text.replace(/token: CHANGE-ME/, 'token: 0123456789abcdef0123'));
      const config = loadBalancerConfig(file);
      assert.equal(config.admin.listen, '0.0.0.0:8081');
      const deployment = manifests().find((m) => m.doc.metadata.name === 'meridian-balancer' && m.doc.kind === 'Deployment')!.doc as unknown as DeploymentDoc;
      const ports = deployment.spec.template.spec.containers[0]!.ports!.map((p) => p.containerPort).sort();
      assert.deepEqual(ports, [Number(config.listen.split(':')[1]), Number(config.admin.listen.split(':')[1])].sort());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a server from the ConfigMap, mounted as Kubernetes mounts it', () => {
    let root: string;
    let zonesDir: string;
    let server: ChildProcess | undefined;
    let dns: number;
    let api: number;
    before(async () => {
      const maps = manifests().filter((m) => m.doc.kind === 'ConfigMap');
      const data = (name: string): Record<string, string> => (maps.find((m) => m.doc.metadata.name === name)!.doc as unknown as { data: Record<string, string> }).data;
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-k8s-'));
      // A configMap volume: the files in a timestamped folder, `..data` pointing at it, and
      // one symlink per key through `..data` (what kubelet's atomic writer lays out).
      zonesDir = path.join(root, 'zones');
      const stamped = path.join(zonesDir, '..2026_12_03_12_00_00.000000001');
      fs.mkdirSync(stamped, { recursive: true });
      fs.symlinkSync('..2026_12_03_12_00_00.000000001', path.join(zonesDir, '..data'));
      for (const [key, text] of Object.entries(data('meridian-zones'))) {
        fs.writeFileSync(path.join(stamped, key), text);
        fs.symlinkSync(path.join('..data', key), path.join(zonesDir, key));
      }
      const shipped = data('meridian-config')['meridian.yaml'];
      assert.ok(shipped !== undefined, 'the ConfigMap holds meridian.yaml');
      const config = shipped
        .replace('/etc/meridian/zones', zonesDir)
        .replace('/app/geoip/', `${path.join(projectRoot, 'geoip')}/`)
        .replace('/var/lib/meridian/', `${path.join(root, 'state')}/`);
      fs.writeFileSync(path.join(root, 'meridian.yaml'), config);
      // the Deployment's args, with the listen addresses on loopback (port 0) for the test
      const args = [cliPath, 'serve', '--config', path.join(root, 'meridian.yaml'), '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
      server = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv({ MERIDIAN_ADMIN_TOKEN: RW_TOKEN }) });
      ({ dns, api } = servingPortsWithApi((await untilServing(server, 30_000))()));
    });
    after(async () => {
      if (server !== undefined && server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((r) => server!.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it('answers DNS from the ConfigMap zones', async () => {
      const r = await udp(dns, 'ns1.example.com', 'A');
      assert.deepEqual(
        r.msg.answers.map((a) => a.data),
        ['192.0.2.53'],
      );
      const www = await udp(dns, 'www.example.com', 'A');
      assert.equal(www.msg.answers.length, 1, 'the steered name answers');
    });

    it('/livez and /readyz answer without a token and reveal nothing; the rest of the API wants it', async () => {
      for (const [route, body] of [
        ['/livez', 'ok\n'],
        ['/readyz', 'ready\n'],
      ] as const) {
        const res = await fetch(`http://127.0.0.1:${api}${route}`, { headers: { host: '10.42.0.7:5380' } });
        assert.equal(res.status, 200, route);
        assert.equal(await res.text(), body);
      }
      const closed = await fetch(`http://127.0.0.1:${api}/v1/health`);
      assert.equal(closed.status, 401);
      const metrics = await fetch(`http://127.0.0.1:${api}/metrics`);
      assert.equal(metrics.status, 401);
    });

    it('/readyz is 503 while no zone is served, and ready again once one is', async () => {
      // every zone file broken, then a reload: the old version keeps serving, still ready
      const zoneFile = path.join(zonesDir, '..data', 'example.com.zone');
      const good = fs.readFileSync(zoneFile, 'utf8');
      fs.writeFileSync(zoneFile, `${good}broken IN A not-an-address\n`);
      const reload = (): Promise<Response> => fetch(`http://127.0.0.1:${api}/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${RW_TOKEN}` } });
      assert.equal((await reload()).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${api}/readyz`)).status, 200, 'a failed reload keeps the old zone: still ready');
      // the zone removed from the volume: nothing is served
      for (const key of ['example.com.zone', 'example.com.policy.yaml']) fs.rmSync(path.join(zonesDir, key));
      assert.equal((await reload()).status, 200);
      const down = await fetch(`http://127.0.0.1:${api}/readyz`);
      assert.equal(down.status, 503);
      assert.equal(await down.text(), 'no zone is served\n');
      fs.writeFileSync(zoneFile, good);
      fs.symlinkSync(path.join('..data', 'example.com.zone'), path.join(zonesDir, 'example.com.zone'));
      assert.equal((await reload()).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${api}/readyz`)).status, 200);
    });
  });
});
