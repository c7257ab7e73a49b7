/**
 * Hand-edited and generated files gone bad (issue 14, item 1): each is a file:line problem
 * for `check`, at start-up and on a watch reload; the server never exits over one, serves
 * the other zones, and keeps answering a bad zone's previous data.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { rcodeOf, udp } from '../support/dns-client.js';
import { runCli, servingPorts, servingPortsWithApi, startCliServer, tempCopy } from '../support/process.js';
import { projectRoot, startTestServer } from '../support/test-server.js';

const zoneText = (extra = ''): string => '$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n' + extra;
const goodPolicy = (ip: string, id = 'a'): string => `targets:\n  ${id}: { region: eu, ipv4: [${ip}] }\nnames:\n  www: { policy: [{ all: {} }] }\n`;
const badTarget = (id: string): string => `targets:\n  ${id}: { region: eu, ipv4: [192.0.2.10] }\nnames:\n  www: { policy: [{ all: {} }] }\n`;

/** Nested `failover` groups, `depth` deep, as one line of JSON-style YAML. */
function deepPolicy(depth: number): string {
  let step = '{ "all": {} }';
  for (let i = 0; i < depth; i++) step = `{ "failover": { "groups": [{ "targets": ["a"], "chain": [${step}] }] } }`;
  return `targets:\n  a: { region: eu, ipv4: [192.0.2.10] }\nnames:\n  www:\n    policy: [${step}]\n`;
}

/** Ten anchors, each ten aliases of the one before: 10^10 nodes if expanded. */
function aliasBomb(): string {
  let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i <= 10; i++)
    text += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  return text;
}

/** Zone name → bad policy text, and the line and message `check` must report for it. */
const HOSTILE: Record<string, { text: string | null; line: number; message: RegExp }> = {
  edge: { text: badTarget('_edge'), line: 2, message: /targets\._edge: invalid key "_edge": an id is 1 to 63 letters/ },
  space: { text: badTarget('"eu west"'), line: 2, message: /targets\.eu west: invalid key "eu west"/ },
  slash: { text: badTarget('"a/b"'), line: 2, message: /targets\.a\/b: invalid key "a\/b"/ },
  proto: { text: badTarget('__proto__'), line: 2, message: /targets\.__proto__: invalid key "__proto__"/ },
  dup: { text: 'targets:\n  a: { region: eu, ipv4: [192.0.2.10] }\n  a: { region: us, ipv4: [192.0.2.11] }\nnames:\n  www: { policy: [{ all: {} }] }\n', line: 3, message: /duplicate key "a"/ },
  bomb: { text: aliasBomb(), line: 0, message: /alias/ },
  deep: { text: deepPolicy(3000), line: 5, message: /nested more than 64 levels deep/ },
  deeper: { text: deepPolicy(20), line: 5, message: /nested more than 64 levels deep/ },
  list: { text: '- a\n- b\n', line: 1, message: /\(top level\): must be object/ },
  scalar: { text: 'hello\n', line: 1, message: /\(top level\): must be object/ },
  newline: { text: 'targets:\n  a: { region: eu, ipv4: [192.0.2.10] }\nnames:\n  "w\\nx": { policy: [{ all: {} }] }\n', line: 4, message: /names\.w\\nx: unknown field/ },
  many: {
    text: 'targets:\n' + Array.from({ length: 1000 }, (_, i) => `  t${i}: { region: eu, ipv4: [not-an-address] }\n`).join('') + 'names:\n  www: { policy: [{ all: {} }] }\n',
    line: 0,
    message: /… and 900 more problems not listed \(900 errors; 1000 in all; only the first 100 of a file are kept\)/,
  },
  huge: { text: null, line: 0, message: /bytes is over the 4194304-byte limit for a policy file/ },
};

const names = Object.keys(HOSTILE);
const ipOf = (i: number): string => `192.0.2.${100 + i}`;
const policyFile = (dir: string, zone: string): string => path.join(dir, `${zone}.test.policy.yaml`);

function writeBad(dir: string, zone: string): void {
  const { text } = HOSTILE[zone]!;
  if (text !== null) fs.writeFileSync(policyFile(dir, zone), text);
  else fs.truncateSync(policyFile(dir, zone), 5 * 1024 * 1024); // a file of zeros, over the limit
}

/** A zones folder with every hostile zone (good policies) and `ctor.test`, whose ids are Object's own names. */
function hostileFolder(): { dir: string; remove: () => void } {
  const t = tempCopy(path.join(projectRoot, 'test/fixtures/empty'));
  names.forEach((zone, i) => {
    fs.writeFileSync(path.join(t.dir, `${zone}.test.zone`), zoneText());
    fs.writeFileSync(policyFile(t.dir, zone), goodPolicy(ipOf(i)));
  });
  fs.writeFileSync(path.join(t.dir, 'ctor.test.zone'), zoneText());
  fs.writeFileSync(policyFile(t.dir, 'ctor'), goodPolicy('192.0.2.90', 'constructor') + '  toString: { policy: [{ all: {} }] }\n');
  return t;
}

type CliServer = Awaited<ReturnType<typeof startCliServer>>;

/** Polls `check` until it holds; fails at once if the server has exited. */
async function waitFor(srv: CliServer, check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (srv.child.exitCode !== null) throw new Error(`the server exited (${srv.child.exitCode}) while waiting for ${what}:\n${srv.output().slice(-3000)}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The server logs JSON lines: their messages, one a line (other lines as they are). */
function logText(output: string): string {
  return output
    .split('\n')
    .map((line) => {
      try {
        return String((JSON.parse(line) as { msg: unknown }).msg);
      } catch {
        return line;
      }
    })
    .join('\n');
}

const answerOf = async (port: number, name: string): Promise<string[]> => (await udp(port, name, 'A')).msg.answers.map((a) => String(a.data));

function assertNamed(output: string, dir: string, what: string): void {
  for (const zone of names) {
    const { line, message } = HOSTILE[zone]!;
    const at = `${policyFile(dir, zone)}:${line}: `;
    const lines = output.split('\n').filter((l) => l.includes(at));
    assert.ok(
      lines.some((l) => message.test(l)),
      `${what}: expected ${at}${message} in:\n${output.slice(0, 4000)}`,
    );
  }
  assert.doesNotMatch(output, /\n\s+at \S+ \(|TypeError|RangeError/, `${what}: no stack trace`);
}

describe('bad policy files', () => {
  it('check names file, line and field for each and exits 1; ids like constructor are fine', async () => {
    const t = hostileFolder();
    try {
      for (const zone of names) writeBad(t.dir, zone);
      const r = await runCli(['check', '--zones', t.dir]);
      assert.equal(r.code, 1, r.stderr);
      assertNamed(r.stderr, t.dir, 'check');
      assert.match(r.stdout, /ctor\.test\.zone: zone ctor\.test\. serial 1, 3 records: OK/);
    } finally {
      t.remove();
    }
  });

  it('a watch reload keeps the previous data of each and the process alive; a start-up serves the other zones', async () => {
    const t = hostileFolder();
    const srv = await startCliServer(['--zones', t.dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    const { dns: port, api: adminPort } = servingPortsWithApi(srv.output());
    let restarted: CliServer | null = null;
    const previousAnswers = async (when: string): Promise<void> => {
      for (const [i, zone] of names.entries()) assert.deepEqual(await answerOf(port, `www.${zone}.test`), [ipOf(i)], `${zone}, ${when}: the previous policy answers`);
    };
    try {
      await previousAnswers('before');
      assert.deepEqual(await answerOf(port, 'toString.ctor.test'), ['192.0.2.90']);
      for (const zone of names) writeBad(t.dir, zone);
      // one reload (debounced) reads them all; its log names each file
      const reported = (from: number) => (): boolean =>
        names.every((zone) =>
          srv
            .output()
            .slice(from)
            .includes(`${policyFile(t.dir, zone)}:${HOSTILE[zone]!.line}: `),
        );
      await waitFor(srv, reported(0), 'the watch reload to report every file');
      await previousAnswers('after the watch reload');
      assertNamed(logText(srv.output()), t.dir, 'watch reload');
      // the other reload paths read the same files again: SIGHUP, then the admin API
      let from = srv.output().length;
      srv.child.kill('SIGHUP');
      await waitFor(srv, reported(from), 'SIGHUP to report every file');
      await previousAnswers('after SIGHUP');
      from = srv.output().length;
      const res = await fetch(`http://127.0.0.1:${adminPort}/v1/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 200, await res.text());
      await waitFor(srv, reported(from), 'the admin reload to report every file');
      await previousAnswers('after the admin reload');
      assert.equal(await srv.stop(), 0);

      restarted = await startCliServer(['--zones', t.dir, '--listen', '127.0.0.1:0']);
      const port2 = servingPorts(restarted.output()).dns;
      assertNamed(logText(restarted.output()), t.dir, 'start-up');
      assert.equal(rcodeOf((await udp(port2, 'www.edge.test', 'A')).raw), 5, 'a zone whose policy is bad is REFUSED');
      assert.deepEqual(await answerOf(port2, 'www.ctor.test'), ['192.0.2.90'], 'the good zone is served');
    } finally {
      if (srv.child.exitCode === null) await srv.stop();
      if (restarted) assert.equal(await restarted.stop(), 0);
      t.remove();
    }
  });
});

describe('a reload that meets the unexpected', () => {
  it('returns false and keeps the previous snapshot serving instead of throwing', async () => {
    const t = tempCopy(path.join(projectRoot, 'test/fixtures/empty'));
    fs.writeFileSync(path.join(t.dir, 'good.test.zone'), zoneText('www IN A 192.0.2.80\n'));
    const server = await startTestServer(t.dir);
    try {
      // a bug nobody has found yet, anywhere below the reload
      server.zones.load = () => {
        throw new TypeError("Cannot read properties of undefined (reading 'forEach')");
      };
      const version = server.store.current.version;
      assert.equal(server.reload(true), false);
      assert.equal(server.store.current.version, version);
      assert.deepEqual(await answerOf(server.port, 'www.good.test'), ['192.0.2.80']);
    } finally {
      await server.close();
      t.remove();
    }
  });
});

describe('files with 500,000 errors', () => {
  const ERRORS = 500_000;
  /** A generated zone whose AAAA lines went bad, and a policy whose latency table did. */
  function writeBroken(dir: string, zone: string): void {
    const lines = [zoneText()];
    for (let i = 0; i < ERRORS; i++) lines.push(`h${i} IN AAAA 2001:db8::${i}:zz\n`);
    fs.writeFileSync(path.join(dir, `${zone}.zone`), lines.join(''));
    fs.writeFileSync(path.join(dir, `${zone}.policy.yaml`), `${goodPolicy('192.0.2.10')}latency: [${Array(ERRORS).fill('1').join(',')}]\n`);
  }
  const SUMMARY = `… and ${ERRORS - 100} more problems not listed (${ERRORS - 100} errors; ${ERRORS} in all; only the first 100 of a file are kept)`;

  function assertReported(output: string, dir: string, zone: string): void {
    assert.ok(output.includes(`${path.join(dir, `${zone}.zone`)}:5: AAAA: "2001:db8::0:zz" is not an IPv6 address`), output.slice(0, 3000));
    assert.ok(output.includes(`${path.join(dir, `${zone}.zone`)}:0: ${SUMMARY}`), output.slice(-3000));
    assert.ok(output.includes(`${path.join(dir, `${zone}.policy.yaml`)}:5: latency.0: must be object`), output.slice(0, 3000));
    assert.ok(output.includes(`${path.join(dir, `${zone}.policy.yaml`)}:0: ${SUMMARY}`), output.slice(-3000));
    assert.doesNotMatch(output, /\n\s+at \S+ \(|RangeError|Maximum call stack/);
  }

  it('check, start-up and a watch reload report them capped, with the count, and keep serving', async () => {
    const t = tempCopy(path.join(projectRoot, 'test/fixtures/empty'));
    fs.writeFileSync(path.join(t.dir, 'good.test.zone'), zoneText('www IN A 192.0.2.80\n'));
    fs.writeFileSync(path.join(t.dir, 'later.test.zone'), zoneText('www IN A 192.0.2.81\n'));
    fs.writeFileSync(path.join(t.dir, 'later.test.policy.yaml'), goodPolicy('192.0.2.82').replace('www:', 'steered:'));
    writeBroken(t.dir, 'broken.test');
    // check and start-up read the same files at the same time: two processes, two cores
    // generous limits: about 5 s of CPU each, on a machine that may be busy with other tests
    const [check, srv] = await Promise.all([runCli(['check', '--zones', t.dir], 120_000), startCliServer(['--zones', t.dir, '--listen', '127.0.0.1:0'], 120_000)]);
    const port = servingPorts(srv.output()).dns;
    try {
      assert.equal(check.code, 1);
      assertReported(check.stderr, t.dir, 'broken.test');
      assert.equal(check.stderr.split('\n').filter((l) => l.includes('broken.test')).length, 202, 'each file: 100 problems and the count');

      assertReported(logText(srv.output()), t.dir, 'broken.test');
      assert.equal(rcodeOf((await udp(port, 'www.broken.test', 'A')).raw), 5);
      assert.deepEqual(await answerOf(port, 'www.good.test'), ['192.0.2.80']);

      // the watch reload: the same breakage in a zone that is being served
      writeBroken(t.dir, 'later.test');
      await waitFor(srv, () => logText(srv.output()).includes(`${path.join(t.dir, 'later.test.policy.yaml')}:0: ${SUMMARY}`), 'the reload to report the broken files', 120_000);
      assert.equal(srv.child.exitCode, null, 'still running');
      assertReported(logText(srv.output()), t.dir, 'later.test');
      assert.deepEqual(await answerOf(port, 'www.later.test'), ['192.0.2.81'], 'the previous zone still answers');
      assert.deepEqual(await answerOf(port, 'steered.later.test'), ['192.0.2.82'], 'the previous policy still answers');
      assert.deepEqual(await answerOf(port, 'www.good.test'), ['192.0.2.80']);
    } finally {
      assert.equal(await srv.stop(), 0);
      t.remove();
    }
  });
});
