/** NSID (RFC 5001) from `dns.nsid`, as text or 0x-hex, only to queries that ask; none unless configured. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildQuery, sendTcp, sendUdp } from '../support/dns-client.js';
import { ednsOptions, startConfigured, type ConfiguredServer } from './helpers.js';

const NSID = 3;
const run = promisify(execFile);

/** dig +nsid, run without blocking: the server answers in this very process. */
async function digNsid(port: number): Promise<string> {
  return (await run('dig', ['@127.0.0.1', '-p', String(port), '+norec', '+tries=1', '+time=2', '+nsid', 'www.rules.test', 'A'], { encoding: 'utf8' })).stdout;
}

describe('NSID', () => {
  let text: ConfiguredServer;
  let hex: ConfiguredServer;
  let none: ConfiguredServer;
  before(async () => {
    [text, hex, none] = await Promise.all([startConfigured('dns: { nsid: "ns1.fra" }\n'), startConfigured('dns: { nsid: "0x01ff7a" }\n'), startConfigured('')]);
  });
  after(() => Promise.all([text.stop(), hex.stop(), none.stop()]));

  it('dig +nsid shows the configured text', async () => {
    const out = await digNsid(text.ports[0]!);
    assert.match(out, /status: NOERROR/);
    assert.match(out, /NSID: 6e 73 31 2e 66 72 61 \("ns1\.fra"\)/);
  });

  it('a 0x value is sent as those octets', async () => {
    assert.match(await digNsid(hex.ports[0]!), /NSID: 01 ff 7a/);
    const [raw] = await sendTcp(hex.ports[0]!, [buildQuery('www.rules.test', 'A', { edns: true, options: [{ code: NSID, data: Buffer.alloc(0) }] })]);
    assert.deepEqual(ednsOptions(raw!)!.get(NSID), Buffer.from([1, 0xff, 0x7a]));
  });

  it('only to a query that asks, on the fast path too', async () => {
    for (let i = 0; i < 3; i++) {
      const asked = await sendUdp(text.ports[0]!, buildQuery('www.rules.test', 'A', { edns: true, options: [{ code: NSID, data: Buffer.alloc(0) }] }));
      assert.equal(ednsOptions(asked)!.get(NSID)?.toString(), 'ns1.fra');
      const plain = await sendUdp(text.ports[0]!, buildQuery('www.rules.test', 'A', { edns: true }));
      assert.equal(ednsOptions(plain)!.has(NSID), false);
      assert.equal(plain.readUInt16BE(6), 1);
    }
  });

  it('none when not configured', async () => {
    assert.doesNotMatch(await digNsid(none.ports[0]!), /NSID/);
  });

  it('a config with a bad NSID names the field', async () => {
    await assert.rejects(startConfigured('dns: { nsid: "0xabc" }\n'), /dns\.nsid/);
  });
});
