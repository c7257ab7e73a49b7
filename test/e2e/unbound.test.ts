/**
 * Issue #8: a real resolver delegates to us. Unbound, with a stub zone for example.com
 * pointing at meridian and ECS forwarding on (subnetcache), answers clients the way the
 * Internet would see us: each subnet gets the region our geo policy picks for it, negative
 * answers, CNAMEs and TXT pass through intact, and when a region's health endpoint dies the
 * answer Unbound gives changes once the (short) TTL has run out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, rcodeOf, sendUdp, udp, type Decoded } from '../support/dns-client.js';
import { ecsOf, ecsOption } from '../support/ecs.js';
import { checkConfig, findBinary, startUnbound, type RunningUnbound } from './helpers/unbound.js';
import { ADDRESSES, startWorld, SUBNETS, type World } from './helpers/world.js';

const missing = findBinary('unbound') === null ? 'unbound is not installed (Debian package unbound; .ci/run installs it)' : false;

let world: World;
let unbound: RunningUnbound;

/** A recursive query to Unbound, with an ECS option when a subnet is given. */
async function ask(name: string, type: string, subnet?: string): Promise<{ raw: Buffer; msg: Decoded }> {
  const query = buildQuery(name, type, { edns: true, recursionDesired: true, options: subnet ? [ecsOption(subnet)] : [] });
  const raw = await sendUdp(unbound.port, query, '127.0.0.1', 3000);
  return { raw, msg: decode(raw) };
}

const addressesOf = (msg: Decoded): string[] => msg.answers.filter((a) => a.type === 'A').map((a) => a.data as string);

describe('Unbound in front of meridian (stub zone, ECS forwarding)', { skip: missing }, () => {
  before(async () => {
    world = await startWorld();
    unbound = await startUnbound({ zone: 'example.com', stubPort: world.server.port });
  });
  after(async () => {
    await unbound?.stop();
    await world?.close();
  });

  it('runs a config unbound-checkconf accepts', () => {
    assert.equal(checkConfig(unbound.confFile), null);
  });

  it('answers each client subnet with the region the geo policy picks for it', async () => {
    for (const [region, subnet] of Object.entries(SUBNETS)) {
      const { raw, msg } = await ask('www.example.com', 'A', subnet);
      assert.equal(rcodeOf(raw), 0, `${subnet}: rcode`);
      assert.deepEqual(addressesOf(msg), [ADDRESSES[region as keyof typeof ADDRESSES]], `${subnet} should get ${region}`);
      // Unbound answers ECS with ECS: the subnet it asked us about, and a non-zero scope,
      // since our answer depends on where the client is.
      const ecs = ecsOf(raw);
      assert.ok(ecs, `${subnet}: Unbound's answer has an ECS option`);
      assert.equal(ecs.source, 24);
      assert.ok(ecs.scope > 0, `${subnet}: scope /${ecs.scope}`);
    }
  });

  it('passes NXDOMAIN through with the SOA', async () => {
    const { raw, msg } = await ask('nope.example.com', 'A', SUBNETS.eu);
    assert.equal(rcodeOf(raw), 3);
    assert.equal(msg.answers.length, 0);
    assert.equal(msg.authorities.find((a) => a.type === 'SOA')?.name, 'example.com');
  });

  it('passes NODATA through (NOERROR, no answer, the SOA)', async () => {
    const { raw, msg } = await ask('mail.example.com', 'AAAA', SUBNETS.eu);
    assert.equal(rcodeOf(raw), 0);
    assert.equal(msg.answers.length, 0);
    assert.ok(msg.authorities.some((a) => a.type === 'SOA'));
    // A steered name with only IPv4 targets is NODATA for AAAA too, through the resolver.
    const steered = await ask('www.example.com', 'AAAA', SUBNETS.ap);
    assert.equal(rcodeOf(steered.raw), 0);
    assert.equal(steered.msg.answers.length, 0);
  });

  it('follows a CNAME to a steered name, per subnet', async () => {
    for (const [region, subnet] of [
      ['ap', SUBNETS.ap],
      ['eu', SUBNETS.eu],
    ] as const) {
      const { msg } = await ask('alias.example.com', 'A', subnet);
      assert.deepEqual(
        msg.answers.map((a) => [a.name, a.type, a.data]),
        [
          ['alias.example.com', 'CNAME', 'www.example.com'],
          ['www.example.com', 'A', ADDRESSES[region]],
        ],
      );
    }
  });

  it('passes TXT strings through byte for byte', async () => {
    const { msg } = await ask('info.example.com', 'TXT');
    const txt = msg.answers.find((a) => a.type === 'TXT');
    assert.deepEqual(
      (txt?.data as Buffer[] | undefined)?.map((b) => b.toString('utf8')),
      ['hello from meridian', 'with "quotes"; semicolons and café'],
    );
    // The steered name's own TXT comes from the zone file.
    const steered = await ask('www.example.com', 'TXT');
    assert.deepEqual((steered.msg.answers[0]?.data as Buffer[] | undefined)?.map(String), ['steered']);
  });

  it('moves EU clients to us once eu fails and the TTL runs out', async (t) => {
    const before = await ask('www.example.com', 'A', SUBNETS.eu);
    assert.deepEqual(addressesOf(before.msg), [ADDRESSES.eu]);
    assert.ok(before.msg.answers[0]!.ttl <= 2, `TTL ${before.msg.answers[0]!.ttl} is the policy's 2 s or less`);
    const killed = Date.now();
    await world.regions.eu.close();
    // Detection: interval 1 s × fall 1 + timeout 300 ms; then at most the 2 s TTL in Unbound's cache.
    const boundMs = 1000 + 300 + 2000;
    let moved = -1;
    while (Date.now() - killed < boundMs + 4000) {
      const { msg } = await ask('www.example.com', 'A', SUBNETS.eu);
      if (addressesOf(msg)[0] === ADDRESSES.us) {
        moved = Date.now() - killed;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(moved >= 0, `Unbound still answers eu ${boundMs + 4000} ms after the region died`);
    // meridian itself moved at once; ask it directly with the same subnet.
    const direct = await udp(world.server.port, 'www.example.com', 'A', { edns: true, options: [ecsOption(SUBNETS.eu)] });
    assert.deepEqual(addressesOf(direct.msg), [ADDRESSES.us]);
    // Other continents are not affected.
    assert.deepEqual(addressesOf((await ask('www.example.com', 'A', SUBNETS.ap)).msg), [ADDRESSES.ap]);
    t.diagnostic(`Unbound answered us ${moved} ms after eu's health endpoint closed (bound ${boundMs} ms)`);
    assert.ok(moved <= boundMs + 1500, `moved after ${moved} ms (bound ${boundMs} ms plus scheduling margin)`);
  });
  // Runs last: were the scope wrong, its answer would sit in Unbound's cache for every client until its TTL ends.
  it(
    'an unlocatable client does not change the answer other subnets get',
    // Unbound sends 127.0.0.0/24 for a loopback client: the answer must claim that /24 only,
    // not /0, or Unbound would serve the default answer to every client (RFC 7871 §7.3.1).
    async () => {
      const { msg } = await ask('www.example.com', 'A');
      assert.deepEqual(addressesOf(msg), [ADDRESSES.us], 'the resolver itself cannot be located: the default region');
      // A subnet not asked for before: 67.43.156.0/24 is BT, in Asia.
      const { msg: asia } = await ask('www.example.com', 'A', '67.43.156.0/24');
      assert.deepEqual(addressesOf(asia), [ADDRESSES.ap]);
    },
  );
});
