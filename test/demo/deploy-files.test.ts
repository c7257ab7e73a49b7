/** deploy/docker-compose.demo.yml and the files it mounts: valid, and consistent with each other. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadBalancerConfig } from '../../src/l7/config.js';
import { runCli } from '../support/process.js';
import { projectRoot } from '../support/test-server.js';

const deploy = path.join(projectRoot, 'deploy');

describe('compose demo files', () => {
  const compose = parse(fs.readFileSync(path.join(deploy, 'docker-compose.demo.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[]; networks?: Record<string, { ipv4_address?: string }> | string[] }>;
  };

  it('every balancer config it names is valid and its backends are services', () => {
    const regions = ['us-east', 'eu-west', 'ap-southeast'];
    for (const r of regions) {
      assert.deepEqual(compose.services[r]!.command, ['balance', '--config', `/demo/${r}.balancer.yaml`]);
      const c = loadBalancerConfig(path.join(deploy, 'demo', `${r}.balancer.yaml`));
      for (const b of c.pools.default!.backends) {
        const service = b.address.split(':')[0]!;
        assert.ok(compose.services[service], `backend ${b.address} is a compose service`);
      }
      assert.ok(c.admin.token !== null, 'off loopback the balancer admin listener needs a token');
    }
  });

  it("the zone loads, and the policy targets are the balancers' addresses on the compose network", async () => {
    const r = await runCli(['check', '--zones', path.join(deploy, 'demo/zones')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const policy = parse(fs.readFileSync(path.join(deploy, 'demo/zones/demo.example.policy.yaml'), 'utf8')) as { targets: Record<string, { ipv4: string[] }> };
    for (const [region, t] of Object.entries(policy.targets)) {
      const networks = compose.services[region]!.networks as Record<string, { ipv4_address: string }>;
      assert.equal(networks.regions!.ipv4_address, t.ipv4[0]);
    }
  });
});
