/**
 * The demo scenario of README "The demo", run for real: three regions on 127.0.1.1-127.0.3.1,
 * each a `meridian balance` before two backend processes, and `meridian serve` steering
 * www.demo.example by the client's country (EDNS Client Subnet).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo, type Demo } from '../../tools/demo/topology.js';
import { udp } from '../support/dns-client.js';
import { ecsOption } from '../support/ecs.js';
import { freePort } from '../support/process.js';
import { json, request, waitFor } from '../l7/helpers.js';

const US = '8.8.8.0/24';
const NL = '193.0.6.0/24';
const JP = '202.12.27.0/24';

describe('demo topology', { timeout: 90_000 }, () => {
  let demo: Demo;
  before(async () => {
    const base = await freePort();
    demo = await startDemo({ dns: await freePort(), admin: await freePort(), balancer: base, backend: await freePort() });
  });
  after(async () => {
    await demo?.stop();
  });

  const answer = async (subnet: string): Promise<string[]> => {
    const { msg } = await udp(demo.ports.dns, 'www.demo.example', 'A', { edns: true, options: [ecsOption(subnet)] });
    return msg.answers.filter((a) => a.type === 'A').map((a) => a.data as string);
  };
  const api = (path: string, method = 'GET') => json(`http://127.0.0.1:${demo.ports.admin}${path}`, { method, token: demo.token });

  it('answers each country with its region, and that region serves HTTP', async () => {
    assert.deepEqual(await answer(US), ['127.0.1.1']);
    assert.deepEqual(await answer(NL), ['127.0.2.1']);
    assert.deepEqual(await answer(JP), ['127.0.3.1']);
    const r = await request(`http://127.0.2.1:${demo.ports.balancer}/`);
    assert.match(r.body, /^hello from eu-west backend [12]/);
    const { msg } = await udp(demo.ports.dns, 'shop.demo.example', 'TXT', { edns: true });
    assert.equal(msg.answers[0]?.type, 'CNAME');
  });

  it('moves NL clients when eu-west loses its backends, and back when they return', async () => {
    await demo.killBackends('eu-west');
    await waitFor(async () => (await json(`http://127.0.2.1:${demo.ports.balancer + 1}/healthz`)).body.up === false, 5000, 'eu-west balancer to report down');
    // Probe interval 1 s, fall 2: the DNS tier takes the region out within a few seconds.
    await waitFor(async () => (await answer(NL))[0] === '127.0.1.1', 8000, 'NL answers to fail over to us-east');
    assert.deepEqual(await answer(US), ['127.0.1.1']);
    const h = await api('/v1/health');
    assert.equal(h.status, 200);
    await demo.startBackends('eu-west');
    await waitFor(async () => (await answer(NL))[0] === '127.0.2.1', 10_000, 'NL answers back on eu-west');
  });

  it('drains a region through the admin API, and explains the answer', async () => {
    const drained = await api('/v1/regions/us-east/drain', 'POST');
    assert.equal(drained.status, 200);
    assert.deepEqual(await answer(US), ['127.0.2.1'], 'US fails over to eu-west at once');
    const explained = await api(`/v1/explain?name=www.demo.example&type=A&client=${encodeURIComponent(US)}`);
    assert.equal(explained.body.client.geo.country, 'US');
    assert.deepEqual(explained.body.addresses, ['127.0.2.1']);
    assert.match(JSON.stringify(explained.body.trace), /drained, never answered: us-east/);
    await api('/v1/regions/us-east/undrain', 'POST');
    assert.deepEqual(await answer(US), ['127.0.1.1']);
  });
});
