/**
 * The deployment files work as shipped: the container health check against a real server,
 * the systemd example config through `meridian check`, the unit through systemd-analyze,
 * and the Dockerfile's promises (non-root, health check, volumes).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, runCli } from '../support/process.js';
import { projectRoot, startTestServer, type TestServer } from '../support/test-server.js';
import { findBinary } from './helpers/unbound.js';

const deploy = path.join(projectRoot, 'deploy');

/** Runs deploy/healthcheck.mjs with the given environment; exit code and output. */
function healthcheck(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(deploy, 'healthcheck.mjs')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('deploy/healthcheck.mjs', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  it('is healthy when the DNS listener answers, even REFUSED for a name outside every zone', async () => {
    const r = await healthcheck({ MERIDIAN_HEALTHCHECK_ADDR: `127.0.0.1:${server.port}` });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /RCODE 5/);
  });

  it('finds the port in MERIDIAN_LISTEN, a wildcard address meaning this host', async () => {
    const r = await healthcheck({ MERIDIAN_LISTEN: `0.0.0.0:${server.port},[::]:${server.port}` });
    assert.equal(r.code, 0, r.out);
  });

  it('with MERIDIAN_HEALTHCHECK_NAME, only NOERROR is healthy', async () => {
    const addr = `127.0.0.1:${server.port}`;
    assert.equal((await healthcheck({ MERIDIAN_HEALTHCHECK_ADDR: addr, MERIDIAN_HEALTHCHECK_NAME: 'www.rules.test' })).code, 0);
    const missing = await healthcheck({ MERIDIAN_HEALTHCHECK_ADDR: addr, MERIDIAN_HEALTHCHECK_NAME: 'nope.rules.test' });
    assert.equal(missing.code, 1);
    assert.match(missing.out, /RCODE 3/);
  });

  it('is unhealthy when nothing answers', async () => {
    const port = await freePort();
    const r = await healthcheck({ MERIDIAN_HEALTHCHECK_ADDR: `127.0.0.1:${port}`, MERIDIAN_HEALTHCHECK_TIMEOUT_MS: '500' });
    assert.equal(r.code, 1);
    assert.match(r.out, /unhealthy/);
  });
});

describe('deploy/meridian.yaml', () => {
  it('passes `meridian check` laid out as /etc/meridian (zones/ and geoip/ beside it)', async () => {
    const etc = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-etc-'));
    try {
      fs.copyFileSync(path.join(deploy, 'meridian.yaml'), path.join(etc, 'meridian.yaml'));
      fs.cpSync(path.join(projectRoot, 'zones'), path.join(etc, 'zones'), { recursive: true });
      fs.cpSync(path.join(projectRoot, 'geoip'), path.join(etc, 'geoip'), { recursive: true });
      const r = await runCli(['check', '--config', path.join(etc, 'meridian.yaml')]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /example\.com\.zone: zone example\.com\..*OK/);
    } finally {
      fs.rmSync(etc, { recursive: true, force: true });
    }
  });
});

describe('deploy/meridian.service', () => {
  const analyze = findBinary('systemd-analyze');
  // verify checks that ExecStart's binary exists: the unit names /usr/bin/node, as Debian installs it.
  const skip = analyze === null ? 'systemd-analyze is not installed' : !fs.existsSync('/usr/bin/node') ? 'no /usr/bin/node, which the unit runs' : false;

  it('passes systemd-analyze verify', { skip }, () => {
    const r = spawnSync(analyze!, ['verify', path.join(deploy, 'meridian.service')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings');
  });

  it('binds port 53 with one capability and a read-only system', () => {
    const unit = fs.readFileSync(path.join(deploy, 'meridian.service'), 'utf8');
    for (const line of [
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'StateDirectory=meridian',
      // deploy/meridian.yaml listens on 0.0.0.0 and [::]: the interface list comes over netlink.
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK',
    ]) {
      assert.ok(unit.split('\n').includes(line), line);
    }
    assert.match(unit, /^ReadWritePaths=\/var\/lib\/meridian/m);
    assert.match(unit, /^User=meridian$/m);
  });
});

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => !l.startsWith('#'));

  it('builds in one stage and runs as a non-root user in another, with a health check and volumes', () => {
    assert.equal(lines.filter((l) => l.startsWith('FROM ')).length, 2, 'multi-stage');
    assert.ok(lines.includes('USER node'));
    assert.match(text, /^HEALTHCHECK .*CMD \["node", "deploy\/healthcheck\.mjs"\]$/m);
    assert.match(text, /^COPY deploy\/healthcheck\.mjs /m);
    assert.match(text, /^VOLUME \[.*"\/app\/zones".*"\/app\/geoip".*\]$/m);
  });
});
