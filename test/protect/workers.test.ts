/**
 * The protection with `--workers 2`: the cookie secret generated at start is shared, so a
 * cookie one worker hands out is valid at the other (echoed, never replaced); NSID comes from
 * both; every worker writes its sampled lines into the one query log; RRL limits in each
 * worker (its rate is per worker).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, sendUdp } from '../support/dns-client.js';
import { startMeridian, workspace, type Meridian, type Workspace } from '../admin/helpers.js';
import { ednsOptions } from './helpers.js';

const COOKIE = 10;
const NSID = 3;
const CLIENT = Buffer.from('b1b2b3b4b5b6b7b8', 'hex');

describe('protection with --workers 2', () => {
  let ws: Workspace;
  let m: Meridian;
  let logFile: string;
  before(async () => {
    ws = workspace();
    logFile = path.join(ws.root, 'queries.jsonl');
    fs.writeFileSync(
      ws.config,
      `health: { stateFile: null }\nzones: { watch: false }\ndns:\n  nsid: twin\n  cookies: { enabled: true }\n  rrl: { enabled: true, responsesPerSecond: 5, windowSec: 2 }\n  queryLog: { path: "${logFile}", flushMs: 20 }\n`,
    );
    m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2' } });
  });
  after(async () => {
    await m?.kill();
    ws?.remove();
  });

  it('a cookie from one worker is valid at every worker; NSID from each', async () => {
    const ask = (cookie: Buffer): Promise<Buffer> =>
      sendUdp(
        m.dns,
        buildQuery('txt.adm.test', 'TXT', {
          edns: true,
          options: [
            { code: COOKIE, data: cookie },
            { code: NSID, data: Buffer.alloc(0) },
          ],
        }),
      );
    const learnt = Buffer.from(ednsOptions(await ask(CLIENT))!.get(COOKIE)!);
    assert.equal(learnt.length, 24);
    // Each query from a new socket; the kernel hands datagrams to either worker (and a valid cookie is never rate limited).
    for (let i = 0; i < 10; i++) {
      const options = ednsOptions(await ask(learnt))!;
      assert.deepEqual(options.get(COOKIE), learnt, 'echoed: valid where it was not made too');
      assert.equal(options.get(NSID)?.toString(), 'twin');
    }
  });

  it('limits a flood in the workers, which all log into one file', async () => {
    const socket = dgram.createSocket('udp4');
    let answers = 0;
    socket.on('message', (raw) => {
      if (raw.readUInt16BE(6) > 0) answers++;
    });
    for (let i = 0; i < 200; i++) socket.send(buildQuery('www.adm.test', 'A', { id: i }), m.dns, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 800));
    socket.close();
    assert.ok(answers <= 60, `answered in full: ${answers} of 200 (5/s per worker)`);
    assert.equal(await m.stop(), 0);
    const lines = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { qname: string; rrl: string });
    // 11 cookie queries and the flood, every line whole though two processes append to the file.
    assert.equal(lines.filter((l) => l.qname === 'txt.adm.test.').length, 11);
    assert.equal(lines.filter((l) => l.qname === 'www.adm.test.').length, 200);
    assert.ok(lines.some((l) => l.rrl === 'drop') && lines.some((l) => l.rrl === 'slip'));
  });
});
