/**
 * A policy file edited while a reload reads the zone (a careless operator, or a deploy tool
 * that writes twice): the reload must serve, and remember, the policy it compiled, so that
 * the next reload of the same files is not taken for "unchanged" and the policy on disk is
 * what answers. The reload is held in the middle by an $INCLUDE of a named pipe (standing
 * for a zone large enough to take seconds): opening the pipe for writing waits until the
 * reload thread reads it, which it does after the policy file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { udp } from '../support/dns-client.js';
import { addresses, call, POLICY_TEXT, startMeridian, workspace, ZONE, type Meridian, type Workspace } from './helpers.js';

const PRIMARY_FIRST = 'groups: [{ targets: [primary] }, { targets: [secondary] }]';
const SECONDARY_FIRST = 'groups: [{ targets: [secondary] }, { targets: [primary] }]';
const INCLUDED = 'included IN A 192.0.2.44\n';

describe('a policy file edited while a reload reads the zone', () => {
  let ws: Workspace;
  let m: Meridian;
  let fifo: string;
  before(async () => {
    ws = workspace();
    assert.ok(POLICY_TEXT.includes(PRIMARY_FIRST));
    m = await startMeridian(ws);
    fifo = path.join(ws.root, 'held.fifo');
    execFileSync('mkfifo', [fifo]);
    fs.appendFileSync(ws.zoneFile, `$INCLUDE ${fifo}\n`);
  });
  after(async () => {
    await m?.stop();
    ws?.remove();
  });

  /** POST /v1/reload, held while the reload thread waits on the pipe; `meanwhile` runs then. */
  async function heldReload(meanwhile: () => void): Promise<void> {
    const reloaded = call(m, 'POST', '/v1/reload');
    const pipe = await fs.promises.open(fifo, 'w'); // the thread has read the policy file and waits here
    meanwhile();
    await pipe.writeFile(INCLUDED);
    await pipe.close();
    const r = await reloaded;
    assert.equal(r.status, 200, r.text);
  }

  it('serves the policy on disk after it is edited back and reloaded', async () => {
    assert.deepEqual(await addresses(m, `fo.${ZONE}`), ['198.51.100.1']);
    // A first edit (a TTL), reloaded; during that reload, a second edit (the failover order).
    const first = POLICY_TEXT.replace('fo:\n    ttl: 5', 'fo:\n    ttl: 6');
    assert.notEqual(first, POLICY_TEXT);
    fs.writeFileSync(ws.policyFile, first);
    await heldReload(() => fs.writeFileSync(ws.policyFile, first.replace(PRIMARY_FIRST, SECONDARY_FIRST)));
    assert.deepEqual(await addresses(m, `included.${ZONE}`), ['192.0.2.44']);
    // The second edit undone, and reloaded: the files read now as that reload read them at its start.
    fs.writeFileSync(ws.policyFile, first);
    await heldReload(() => {});
    const { msg } = await udp(m.dns, `fo.${ZONE}`, 'A');
    assert.deepEqual(
      msg.answers.map((a) => `${String(a.data)} ${a.ttl}`),
      ['198.51.100.1 6'],
      'the policy on disk answers, not the one the reload before compiled',
    );
  });
});
