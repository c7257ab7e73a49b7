/**
 * Issue #5, bad requests: 400 with a JSON body naming the field at fault, and nothing
 * written (zone and policy files unchanged byte for byte, same serial, same DNS answers);
 * 404 for unknown zones and missing RRsets; a batch with one bad operation changes nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { udp } from '../support/dns-client.js';
import { addresses, call, INITIAL_SERIAL, RW_TOKEN, soaSerial, startMeridian, workspace, ZONE, type Meridian, type Reply, type Workspace } from './helpers.js';

let ws: Workspace;
let m: Meridian;
const Z = `/v1/zones/${ZONE}`;

before(async () => {
  ws = workspace();
  m = await startMeridian(ws, { env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
});
after(async () => {
  await m.stop();
  ws.remove();
});

interface Files {
  zone: Buffer;
  policy: Buffer;
  listing: string[];
}
const files = (): Files => ({ zone: fs.readFileSync(ws.zoneFile), policy: fs.readFileSync(ws.policyFile), listing: fs.readdirSync(ws.zones).sort() });

/** Nothing written: files byte for byte, the folder listing, the serial and the answers. */
async function assertUnchanged(before: Files, what: string): Promise<void> {
  const now = files();
  assert.ok(now.zone.equals(before.zone), `${what}: the zone file is unchanged byte for byte`);
  assert.ok(now.policy.equals(before.policy), `${what}: the policy file is unchanged byte for byte`);
  assert.deepEqual(now.listing, before.listing, `${what}: no file added or removed`);
  assert.equal(await soaSerial(m), INITIAL_SERIAL, `${what}: the serial is unchanged`);
  assert.equal((await call(m, 'GET', Z)).etag, `"${INITIAL_SERIAL}"`);
  assert.deepEqual(await addresses(m, 'www.adm.test'), ['192.0.2.80']);
  const alias = (await udp(m.dns, 'alias.adm.test', 'A')).msg.answers;
  assert.deepEqual(
    alias.map((a) => [a.type, a.data]),
    [
      ['CNAME', 'www.adm.test'],
      ['A', '192.0.2.80'],
    ],
  );
}

function assertInvalid(r: Reply, field: string | RegExp, what: string): void {
  assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.json.error, 'GSLB_ERR_API_INVALID', what);
  if (typeof field === 'string') assert.equal(r.json.field, field, `${what}: field (message: ${r.json.message})`);
  else assert.match(`${r.json.field} ${r.json.message}`, field, what);
  assert.equal(typeof r.json.message, 'string');
  assert.ok(r.json.message.length > 5, `${what}: a message a person can read`);
}

describe('admin API: bad requests', () => {
  it('answers 400 naming the field for each kind of bad input, and writes nothing', async () => {
    const before = files();
    const cases: Array<[string, string, unknown, string | RegExp]> = [
      // body schema: the path into the body
      ['PUT', `${Z}/records/x/A`, { ttl: -1, rdata: ['192.0.2.1'] }, 'body.ttl'],
      ['PUT', `${Z}/records/x/A`, { ttl: '60', rdata: ['192.0.2.1'] }, 'body.ttl'],
      ['PUT', `${Z}/records/x/A`, { ttl: 2 ** 31, rdata: ['192.0.2.1'] }, 'body.ttl'],
      ['PUT', `${Z}/records/x/A`, { ttl: 1.5, rdata: ['192.0.2.1'] }, 'body.ttl'],
      ['PUT', `${Z}/records/x/A`, { ttl: 60, rdata: [] }, 'body.rdata'],
      ['PUT', `${Z}/records/x/A`, { ttl: 60, rdata: '192.0.2.1' }, 'body.rdata'],
      ['PUT', `${Z}/records/x/A`, { ttl: 60 }, 'body.rdata'],
      ['PUT', `${Z}/records/x/A`, undefined, 'body'],
      ['PUT', `${Z}/records/x/A`, '{"ttl": 60, "rdata": [', /JSON/],
      // RDATA, parsed by the zone-file codecs: the index of the bad string
      ['PUT', `${Z}/records/x/A`, { ttl: 60, rdata: ['300.1.1.1'] }, 'rdata[0]'],
      ['PUT', `${Z}/records/x/A`, { ttl: 60, rdata: ['192.0.2.1', '300.1.1.1'] }, 'rdata[1]'],
      ['PUT', `${Z}/records/x/AAAA`, { ttl: 60, rdata: ['192.0.2.1'] }, 'rdata[0]'],
      ['PUT', `${Z}/records/x/MX`, { ttl: 60, rdata: ['x mail'] }, 'rdata[0]'],
      ['PUT', `${Z}/records/x/TXT`, { ttl: 60, rdata: ['"unterminated'] }, 'rdata[0]'],
      ['PUT', `${Z}/records/@/SOA`, { ttl: 60, rdata: ['ns1 hostmaster'] }, 'rdata[0]'],
      // names and types in the URL
      ['PUT', `${Z}/records/x/FOO`, { ttl: 60, rdata: ['1'] }, 'type'],
      ['PUT', `${Z}/records/x/ANY`, { ttl: 60, rdata: ['1'] }, 'type'],
      ['PUT', `${Z}/records/x.example.org./A`, { ttl: 60, rdata: ['192.0.2.1'] }, 'name'],
      ['PUT', `${Z}/records/a..b/A`, { ttl: 60, rdata: ['192.0.2.1'] }, 'name'],
      ['DELETE', `${Z}/records/@/SOA`, undefined, 'type'],
      // zone rules: a static A at a steered name
      ['PUT', `${Z}/records/fo/A`, { ttl: 60, rdata: ['192.0.2.1'] }, /steered name fo\.adm\.test\./],
      // policies: validated by the policy schema and against the zone
      ['PUT', `${Z}/policy/targets/t`, { region: 'r', ipv4: ['nope'] }, /targets\.t\.ipv4\.0/],
      ['PUT', `${Z}/policy/targets/t`, { region: 'r', weight: -1 }, /targets\.t\.weight/],
      ['PUT', `${Z}/policy/names/n`, { targets: ['nosuch'], policy: [{ all: {} }] }, /names\.n\.targets\.0: unknown target "nosuch"/],
      ['PUT', `${Z}/policy/names/n`, { targets: ['primary'], policy: [{ bogus: {} }] }, /names\.n\.policy\.0\.bogus/],
      ['PUT', `${Z}/policy/names/www`, { targets: ['primary'], policy: [{ all: {} }] }, /steered name www\.adm\.test\. also has a static A/],
      ['PUT', `${Z}/policy/names/alias`, { targets: ['primary'], policy: [{ all: {} }] }, /steered name alias\.adm\.test\. also has a static CNAME/],
      ['DELETE', `${Z}/policy/targets/primary`, undefined, /unknown target "primary"/],
      ['PUT', `${Z}/policy/bogus/x`, {}, 'params.section'],
      ['PUT', `${Z}/policy`, [], 'body'],
      ['PUT', `${Z}/policy`, { targets: {}, names: {}, extra: 1 }, /extra: unknown field/],
      // creating zones
      ['POST', '/v1/zones', { name: 'bad..name', soa: { mname: 'a.', rname: 'b.' }, ns: ['a.'] }, 'name'],
      ['POST', '/v1/zones', { name: 'z.test', soa: { mname: 'a.', rname: 'b.' }, ns: [] }, 'body.ns'],
      ['POST', '/v1/zones', { name: 'z.test', soa: { mname: 'a.' }, ns: ['a.'] }, 'body.soa.rname'],
      ['POST', '/v1/zones', { name: 'z.test', soa: { mname: 'a.', rname: 'b.' }, ns: ['a.'], records: [{ name: 'x', type: 'A', rdata: ['bad'] }] }, 'records[0].rdata[0]'],
      // operations
      ['GET', '/v1/explain?name=fo.adm.test&type=A&client=bogus', undefined, 'client'],
      ['GET', '/v1/explain?name=fo.adm.test&type=A&client=10.0.0.0/8', undefined, 'client'],
      ['GET', '/v1/explain?name=fo.adm.test&type=MX&client=192.0.2.1', undefined, 'type'],
      ['GET', '/v1/explain?type=A&client=192.0.2.1', undefined, 'querystring.name'],
      ['POST', '/v1/latency', { samples: [{ network: '10.0.0.1/8', region: 'one', ms: 1 }] }, 'body.samples.0.network'],
      [
        'POST',
        '/v1/latency',
        {
          samples: [
            { network: '192.0.2.0/24', region: 'one', ms: 1 },
            { network: 'nope', region: 'two', ms: 1 },
          ],
        },
        'body.samples.1.network',
      ],
      ['POST', '/v1/latency', { samples: [{ network: '192.0.2.0/24', region: 'one', ms: -1 }] }, 'body.samples.0.ms'],
      ['POST', '/v1/latency', { samples: [] }, 'body.samples'],
    ];
    for (const [method, url, body, field] of cases) {
      assertInvalid(await call(m, method, url, body), field, `${method} ${url} ${JSON.stringify(body)}`);
    }
    await assertUnchanged(before, 'after every bad request');
    assert.deepEqual((await call(m, 'GET', '/v1/latency')).json.samples, [], 'no latency sample half-applied');
  });

  it('answers {"ttl": -1} with a 400 (it names the first field at fault)', async () => {
    // Only one schema error is reported (allErrors: false): with rdata missing as well, the
    // field named is body.rdata, not body.ttl.
    const r = await call(m, 'PUT', `${Z}/records/x/A`, { ttl: -1 });
    assertInvalid(r, /ttl|rdata/, 'PUT {"ttl": -1}');
    assert.ok(['body.ttl', 'body.rdata'].includes(r.json.field), r.json.field);
  });

  it('refuses a CNAME beside other data, leaving the zone file unchanged byte for byte', async () => {
    const before = files();
    assertInvalid(await call(m, 'PUT', `${Z}/records/alias/A`, { ttl: 60, rdata: ['192.0.2.1'] }), /beside a CNAME/, 'A beside the CNAME at alias');
    assertInvalid(await call(m, 'PUT', `${Z}/records/alias/TXT`, { ttl: 60, rdata: ['"x"'] }), /beside a CNAME/, 'TXT beside the CNAME at alias');
    assertInvalid(await call(m, 'PUT', `${Z}/records/www/CNAME`, { ttl: 60, rdata: ['ns1'] }), /beside a CNAME/, 'a CNAME at www, which has an A');
    assertInvalid(await call(m, 'PUT', `${Z}/records/alias/CNAME`, { ttl: 60, rdata: ['ns1', 'www'] }), /CNAME/, 'two CNAMEs at one name');
    assertInvalid(
      await call(m, 'POST', `${Z}/records/batch`, {
        operations: [
          { op: 'put', name: 'fresh', type: 'A', ttl: 60, rdata: ['192.0.2.1'] },
          { op: 'put', name: 'fresh', type: 'CNAME', ttl: 60, rdata: ['www'] },
        ],
      }),
      /beside a CNAME/,
      'a batch making a CNAME beside an A',
    );
    await assertUnchanged(before, 'after the CNAME conflicts');
    assert.deepEqual(await addresses(m, 'fresh.adm.test'), []);
  });

  it('answers 404 for an unknown zone on every zone route, and for missing RRsets', async () => {
    const before = files();
    const nope = '/v1/zones/nope.test';
    const cases: Array<[string, string, unknown]> = [
      ['GET', nope, undefined],
      ['DELETE', nope, undefined],
      ['GET', `${nope}/records`, undefined],
      ['GET', `${nope}/records/www/A`, undefined],
      ['PUT', `${nope}/records/www/A`, { ttl: 60, rdata: ['192.0.2.1'] }],
      ['DELETE', `${nope}/records/www/A`, undefined],
      ['POST', `${nope}/records/batch`, { operations: [{ op: 'delete', name: 'www', type: 'A' }] }],
      ['GET', `${nope}/policy`, undefined],
      ['PUT', `${nope}/policy`, { targets: {}, names: {} }],
      ['DELETE', `${nope}/policy`, undefined],
      ['GET', `${nope}/policy/targets/a`, undefined],
      ['PUT', `${nope}/policy/targets/a`, { region: 'r', ipv4: ['192.0.2.1'] }],
      ['DELETE', `${nope}/policy/targets/a`, undefined],
      // missing things in a zone that exists
      ['DELETE', `${Z}/records/missing/A`, undefined],
      ['DELETE', `${Z}/records/www/AAAA`, undefined],
      ['GET', `${Z}/records/missing/A`, undefined],
      ['GET', `${Z}/policy/targets/nosuch`, undefined],
      ['DELETE', `${Z}/policy/targets/nosuch`, undefined],
      ['DELETE', `${Z}/policy/names/nosuch`, undefined],
      ['POST', '/v1/targets/nosuch/drain', undefined],
      ['POST', '/v1/regions/nosuch/drain', undefined],
    ];
    for (const [method, url, body] of cases) {
      const r = await call(m, method, url, body);
      assert.equal(r.status, 404, `${method} ${url}: ${r.status} ${r.text}`);
      assert.equal(r.json.error, 'GSLB_ERR_API_NOT_FOUND', `${method} ${url}`);
    }
    await assertUnchanged(before, 'after the 404s');
  });

  it('changes nothing when the 3rd operation of a batch is bad, whatever is wrong with it', async () => {
    const before = files();
    const good = [
      { op: 'put', name: 'ok1', type: 'A', ttl: 60, rdata: ['192.0.2.1'] },
      { op: 'put', name: 'www', type: 'A', ttl: 60, rdata: ['192.0.2.99'] },
    ];
    const third: Array<[unknown, number, string | RegExp]> = [
      [{ op: 'put', name: 'bad', type: 'A', ttl: 60, rdata: ['1.2.3'] }, 400, 'operations[2].rdata[0]'],
      [{ op: 'put', name: 'bad', type: 'NOPE', ttl: 60, rdata: ['1'] }, 400, 'operations[2].type'],
      [{ op: 'put', name: 'bad.example.org.', type: 'A', ttl: 60, rdata: ['192.0.2.1'] }, 400, 'operations[2].name'],
      [{ op: 'put', name: 'alias', type: 'A', ttl: 60, rdata: ['192.0.2.1'] }, 400, /beside a CNAME/],
      [{ op: 'put', name: 'bad', type: 'A', ttl: -5, rdata: ['192.0.2.1'] }, 400, 'body.operations.2.ttl'],
      [{ op: 'move', name: 'bad', type: 'A' }, 400, 'body.operations.2.op'],
      [{ op: 'put', name: 'bad', type: 'A', rdata: ['192.0.2.1'] }, 400, /operations.2.*ttl/],
      [{ op: 'delete', name: '@', type: 'SOA' }, 400, 'operations[2].type'],
      [{ op: 'delete', name: 'missing', type: 'A' }, 404, /missing\.adm\.test\. not found/],
    ];
    for (const [op, status, field] of third) {
      const r = await call(m, 'POST', `${Z}/records/batch`, { operations: [...good, op] });
      const what = `batch with ${JSON.stringify(op)} third`;
      assert.equal(r.status, status, `${what}: ${r.text}`);
      if (status === 400) assertInvalid(r, field, what);
      else assert.match(r.json.message, field as RegExp);
    }
    await assertUnchanged(before, 'after the bad batches');
    assert.deepEqual(await addresses(m, 'ok1.adm.test'), [], 'the first operation was not applied');
    // the same batch with a good third operation goes through, in one serial
    const ok = await call(m, 'POST', `${Z}/records/batch`, { operations: [...good, { op: 'delete', name: 'old', type: 'A' }] });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.etag, `"${INITIAL_SERIAL + 1}"`);
    assert.deepEqual(await addresses(m, 'ok1.adm.test'), ['192.0.2.1']);
    assert.deepEqual(await addresses(m, 'www.adm.test'), ['192.0.2.99']);
    assert.deepEqual(await addresses(m, 'old.adm.test'), []);
  });
});

/**
 * Bugs once found in src/ (now fixed). Each states what the API should do; the suite
 * green until it is fixed (drop the option then). They run after the tests above, on a fresh
 * folder so their side effects cannot leak.
 */
describe('admin API: bad requests that src/ once let through', () => {
  let ws2: Workspace;
  let m2: Meridian;
  before(async () => {
    ws2 = workspace();
    m2 = await startMeridian(ws2, { env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
  });
  after(async () => {
    await m2.stop();
    ws2.remove();
  });

  it('refuses unknown body fields instead of dropping them', async () => {
    // "record" for "records": the zone is created without its records, 201
    const zone = await call(m2, 'POST', '/v1/zones', {
      name: 'typo.test',
      soa: { mname: 'ns1.typo.test.', rname: 'h.typo.test.' },
      ns: ['ns1.typo.test.'],
      record: [{ name: 'www', type: 'A', rdata: ['192.0.2.1'] }],
    });
    assertInvalid(zone, /record/, 'POST /v1/zones with "record"');
    // "ttl" for "ttlSec": the samples live 600 s instead of 5 s
    assertInvalid(await call(m2, 'POST', '/v1/latency', { samples: [{ network: '192.0.2.0/24', region: 'one', ms: 1 }], ttl: 5 }), /ttl/, 'POST /v1/latency with "ttl"');
    assertInvalid(await call(m2, 'PUT', `${Z}/records/x/A`, { ttl: 60, rdata: ['192.0.2.1'], comment: 'x' }), /comment/, 'PUT a record with "comment"');
  });

  it('answers 400 (not 500) to explain with a malformed name', async () => {
    assertInvalid(await call(m2, 'GET', '/v1/explain?name=a..b&type=A&client=192.0.2.1'), 'name', 'explain name=a..b');
  });

  it('names the field when a batch put lacks ttl', async () => {
    const r = await call(m2, 'POST', `${Z}/records/batch`, { operations: [{ op: 'put', name: 'x', type: 'A', rdata: ['192.0.2.1'] }] });
    assertInvalid(r, /^(body\.)?operations(\.0\.|\[0\]\.)ttl /, 'batch put without ttl');
  });

  it('answers 404 to deleting a policy the zone does not have, without bumping the serial', async () => {
    const created = await call(m2, 'POST', '/v1/zones', { name: 'nopolicy.test', soa: { mname: 'ns1.nopolicy.test.', rname: 'h.nopolicy.test.' }, ns: ['ns1.nopolicy.test.'] });
    assert.equal(created.status, 201);
    const r = await call(m2, 'DELETE', '/v1/zones/nopolicy.test/policy');
    assert.equal(r.status, 404, r.text);
    assert.equal(await soaSerial(m2, 'nopolicy.test'), 1);
  });

  it('refuses a zone name that cannot be a file name in the zones folder', async () => {
    const r = await call(m2, 'POST', '/v1/zones', { name: 'a/b.test', soa: { mname: 'ns1.b.test.', rname: 'h.b.test.' }, ns: ['ns1.b.test.'] });
    const listed = (await call(m2, 'GET', '/v1/zones')).json.zones.map((z: { zone: string }) => z.zone);
    assert.ok(r.status === 400 || listed.includes('a/b.test.'), `${r.status} ${r.text}; zones served: ${listed.join(', ')}; files: ${fs.readdirSync(ws2.zones, { recursive: true }).join(', ')}`);
    assert.equal(fs.existsSync(path.join(ws2.zones, 'a')), false, 'no subfolder made');
  });
});
