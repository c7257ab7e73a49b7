/**
 * deploy/prometheus and deploy/grafana (issue #17 item 6): the alert rules pass
 * `promtool check rules` and their unit tests (`promtool test rules`), every dashboard query
 * parses as PromQL, and every metric name either file uses is exported by a real
 * `serve --workers 2` or `balance` scraped here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { startMeridian, workspace, type Meridian, type Workspace } from '../admin/helpers.js';
import { projectRoot } from '../support/test-server.js';
import { startBalanceCli } from '../l7/helpers.js';
import { parseExposition } from '../metrics/exposition.js';

const RULES = path.join(projectRoot, 'deploy/prometheus/meridian-rules.yml');
const RULES_TEST = path.join(projectRoot, 'deploy/prometheus/meridian-rules.test.yml');
const DASHBOARD = path.join(projectRoot, 'deploy/grafana/meridian.json');

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const noPromtool = promtool.error === undefined ? false : 'promtool is not installed (Debian package prometheus; .ci/run installs it)';

function runPromtool(args: string[], cwd: string): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly datasource?: { uid: string };
  readonly targets?: ReadonlyArray<{ refId: string; expr: string; datasource?: { uid: string } }>;
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { list: ReadonlyArray<{ name: string; type: string }> };
}

const rules = (): Rule[] => (parse(fs.readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const dashboard = (): Dashboard => JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const dashboardQueries = (): Array<{ panel: string; expr: string }> => dashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** Grafana's variables replaced by what they stand for, so promtool can parse the query. */
const asPromql = (expr: string): string => expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*').replaceAll('$balancer', '.*');

/** Metric names a PromQL expression reads (meridian's, and prom-client's process_/nodejs_ ones). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:meridian|process|nodejs)_[a-zA-Z0-9_]+)\b/g)].map((m) => m[1]!);
}

describe('Prometheus rules and Grafana dashboard', () => {
  it('promtool check rules passes', { skip: noPromtool }, () => {
    const r = runPromtool(['check', 'rules', RULES], projectRoot);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: \d+ rules found/);
  });

  it('promtool test rules passes the unit tests, which cover at least two alerts', { skip: noPromtool }, () => {
    const tested = new Set([...fs.readFileSync(RULES_TEST, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    assert.ok(tested.size >= 2, `alerts tested: ${[...tested].join(', ')}`);
    for (const name of tested)
      assert.ok(
        rules().some((r) => r.alert === name),
        `${name} is a rule`,
      );
    const r = runPromtool(['test', 'rules', path.basename(RULES_TEST)], path.dirname(RULES_TEST));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  it("the issue's alerts are there: region down, fail-open, reload failing, probe failure ratio, SERVFAIL rate", () => {
    const names = rules().map((r) => r.alert);
    for (const a of ['MeridianRegionDown', 'MeridianFailOpenAnswering', 'MeridianZoneReloadFailing', 'MeridianProbeFailureRatioHigh', 'MeridianServfailRateHigh']) {
      assert.ok(names.includes(a), `${a} in ${names.join(', ')}`);
    }
  });

  it('the dashboard is well formed and every query parses as PromQL', { skip: noPromtool }, () => {
    const d = dashboard();
    assert.equal(d.uid, 'meridian-gslb');
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    const variables = new Set(d.templating.list.map((v) => v.name));
    for (const p of d.panels) {
      assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.h > 0, `${p.title}: gridPos inside the 24 columns`);
      if (p.type === 'row') continue;
      assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
      assert.equal(p.datasource?.uid, '${datasource}', `${p.title} uses the datasource variable`);
      for (const t of p.targets!) for (const v of t.expr.matchAll(/\$(\w+)/g)) if (!v[1]!.startsWith('__')) assert.ok(variables.has(v[1]!), `${p.title}: $${v[1]} is a dashboard variable`);
    }
    const queries = dashboardQueries();
    for (const want of [
      'meridian_dns_queries_total',
      'meridian_dns_query_duration_seconds_bucket',
      'meridian_steered_answers_total',
      'meridian_fail_open_total',
      'meridian_health_target_up',
      'meridian_zone_last_reload_success',
      'meridian_l7_requests_total',
      'meridian_l7_responses_total',
      'meridian_l7_ejections_total',
    ]) {
      assert.ok(
        queries.some((q) => q.expr.includes(want)),
        `a panel shows ${want}`,
      );
    }
    // promtool parses the queries as recording rules
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-dash-'));
    try {
      const file = path.join(dir, 'dashboard-queries.yml');
      fs.writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPromql(q.expr) })) }] }));
      const r = runPromtool(['check', 'rules', file], dir);
      assert.equal(r.code, 0, r.out);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('every metric name used is exported', () => {
    let ws: Workspace;
    let m: Meridian;
    let balance: Awaited<ReturnType<typeof startBalanceCli>>;
    let backend: http.Server;
    let configDir: string;
    before(async () => {
      ws = workspace();
      m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2' } });
      backend = http.createServer((_req, res) => res.end('ok'));
      await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
      configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-balance-'));
      const config = path.join(configDir, 'balancer.json');
      fs.writeFileSync(
        config,
        JSON.stringify({
          listen: '127.0.0.1:0',
          admin: { listen: '127.0.0.1:0' },
          pools: { default: { backends: [{ id: 'b1', address: `127.0.0.1:${(backend.address() as AddressInfo).port}` }] } },
        }),
      );
      balance = await startBalanceCli(config);
    });
    after(async () => {
      await balance?.stop();
      await m?.stop();
      ws?.remove();
      await new Promise((r) => backend?.close(r));
      if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
    });

    it('by serve --workers 2 or balance', async () => {
      const exported = new Set<string>();
      for (const url of [`http://127.0.0.1:${m.api}/metrics`, `${balance.adminUrl}/metrics`]) {
        const res = await fetch(url);
        assert.equal(res.status, 200, url);
        const e = parseExposition(await res.text());
        for (const name of e.types.keys()) exported.add(name);
        // histogram series names (_bucket, _sum, _count) are declared by their family
        for (const [name, type] of e.types) if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
      }
      const used = [...rules().map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })), ...dashboardQueries().map((q) => ({ where: `panel "${q.panel}"`, expr: q.expr }))];
      const missing: string[] = [];
      for (const { where, expr } of used) for (const name of metricNames(expr)) if (!exported.has(name)) missing.push(`${where}: ${name}`);
      assert.deepEqual(missing, [], 'metric names not exported');
      assert.ok(used.length > 20);
    });
  });
});
