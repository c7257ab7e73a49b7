/**
 * Routing by host, path prefix, method, header and query, prefix rewriting, and paths a
 * client spells to slip past a route (issue 15, "what operators expect of an edge proxy").
 * Requests go as raw targets (http.request's `path`), never through URL parsing, which would
 * resolve `..` itself.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseBalancerConfig } from '../../src/l7/config.js';
import { normalizePath, regexProblem } from '../../src/l7/routing.js';
import { startBackends, startBalancer, type TestBackend, type TestBalancer } from './helpers.js';

interface Seen {
  readonly status: number;
  /** "<backend id> <method> <target as the backend saw it>", or the balancer's error code. */
  readonly body: string;
}

function send(port: number, target: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const code = res.headers['x-meridian-error'];
        resolve({ status: res.statusCode ?? 0, body: typeof code === 'string' ? code : Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('routing by request attributes', () => {
  let backends: TestBackend[];
  let lb: TestBalancer;
  let port: number;
  before(async () => {
    backends = await startBackends(8);
    for (const b of backends) b.handler = (req, res) => res.end(`${b.id} ${req.method} ${req.url}`);
    const one = (b: TestBackend) => ({ backends: [{ id: b.id, address: b.address }] });
    lb = await startBalancer({
      routes: [
        // Names an object has by inheritance, never sent by the test's client: these routes must not match.
        { match: { pathPrefix: '/proto', headers: [{ name: '__proto__', present: true }] }, pool: 'admin' },
        { match: { pathPrefix: '/proto', headers: [{ name: 'constructor', prefix: 'x' }] }, pool: 'admin' },
        { match: { pathPrefix: '/proto', headers: [{ name: 'toString', regex: 'x' }] }, pool: 'admin' },
        { match: { pathPrefix: '/admin' }, pool: 'admin' },
        { match: { pathPrefix: '/Case', ignoreCase: true }, pool: 'admin' },
        { match: { host: 'api.example.com', pathPrefix: '/api', methods: ['post', 'PUT'] }, pool: 'writes' },
        { match: { pathPrefix: '/api', headers: [{ name: 'X-Tenant', exact: 'blue' }] }, pool: 'tenant' },
        { match: { pathPrefix: '/api', headers: [{ name: 'user-agent', prefix: 'curl/' }] }, pool: 'tenant' },
        { match: { pathPrefix: '/api', headers: [{ name: 'X-Version', regex: 'v[0-9]+\\.[0-9]+' }] }, pool: 'regex' },
        { match: { pathPrefix: '/api', headers: [{ name: 'x-canary', present: true }] }, pool: 'canary' },
        { match: { pathPrefix: '/api', query: [{ name: 'beta', exact: '1' }] }, pool: 'canary' },
        { match: { pathPrefix: '/api', query: [{ name: 'debug', present: true }] }, pool: 'regex' },
        { match: { pathPrefix: '/api' }, rewrite: { stripPrefix: true }, pool: 'api' },
        { pathPrefix: '/old/', rewrite: { replacePrefix: '/v1/' }, pool: 'api' },
        { match: { pathPrefix: '/first' }, pool: 'api' },
        { match: { pathPrefix: '/first' }, pool: 'admin' },
      ],
      pools: {
        default: one(backends[0]!),
        admin: one(backends[1]!),
        writes: one(backends[2]!),
        tenant: one(backends[3]!),
        regex: one(backends[4]!),
        canary: one(backends[5]!),
        api: one(backends[6]!),
      },
    });
    port = lb.balancer.address.port;
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('matches on method and host together', async () => {
    assert.equal((await send(port, '/api/x', { method: 'POST', headers: { host: 'API.example.com' } })).body, 'c POST /api/x');
    assert.equal((await send(port, '/api/x', { method: 'PUT', headers: { host: 'api.example.com' } })).body, 'c PUT /api/x');
    assert.equal((await send(port, '/api/x', { method: 'POST', headers: { host: 'other.example.com' } })).body, 'g POST /x', 'another host falls through');
    assert.equal((await send(port, '/api/x', { method: 'GET', headers: { host: 'api.example.com' } })).body, 'g GET /x', 'another method falls through');
  });

  it('reads only the headers the client sent, never names an object inherits (__proto__, constructor)', async () => {
    assert.equal((await send(port, '/proto/x')).body, 'a GET /proto/x');
    assert.equal((await send(port, '/proto/x', { headers: { constructor: 'xy' } })).body, 'b GET /proto/x', 'a constructor header the client sent is matched');
  });

  it('matches headers by exact value, prefix, regex and presence, the name in any case', async () => {
    assert.equal((await send(port, '/api/a', { headers: { 'x-tenant': 'blue' } })).body, 'd GET /api/a');
    assert.equal((await send(port, '/api/a', { headers: { 'X-TENANT': 'Blue' } })).body, 'g GET /a', 'values compare exactly');
    assert.equal((await send(port, '/api/a', { headers: { 'user-agent': 'curl/8.5' } })).body, 'd GET /api/a');
    assert.equal((await send(port, '/api/a', { headers: { 'x-version': 'v2.10' } })).body, 'e GET /api/a');
    assert.equal((await send(port, '/api/a', { headers: { 'x-version': 'xv2.10' } })).body, 'g GET /a', 'a regex matches the whole value');
    assert.equal((await send(port, '/api/a', { headers: { 'x-version': 'v2.10junk' } })).body, 'g GET /a');
    assert.equal((await send(port, '/api/a', { headers: { 'x-canary': '' } })).body, 'f GET /api/a', 'present, even empty');
  });

  it('does not hang on a long hostile value for a permitted regex', async () => {
    const r = await send(port, '/api/a', { headers: { 'x-version': `v${'1'.repeat(5000)}` } });
    assert.equal(r.body, 'g GET /a', 'a value longer than the regex input cap does not match');
    const r2 = await send(port, '/api/a', { headers: { 'x-version': `v${'1'.repeat(1000)}.` } });
    assert.equal(r2.body, 'g GET /a');
  });

  it('matches query parameters by exact (decoded) value and presence, keeping the query as sent', async () => {
    assert.equal((await send(port, '/api/q?beta=1')).body, 'f GET /api/q?beta=1');
    assert.equal((await send(port, '/api/q?beta=%31&x=%2F')).body, 'f GET /api/q?beta=%31&x=%2F');
    assert.equal((await send(port, '/api/q?beta=2')).body, 'g GET /q?beta=2');
    assert.equal((await send(port, '/api/q?x=1&debug')).body, 'e GET /api/q?x=1&debug');
  });

  it('rewrites the prefix, stripped or replaced, and keeps the query', async () => {
    assert.equal((await send(port, '/api/users/7?fields=a,b&x=%2F')).body, 'g GET /users/7?fields=a,b&x=%2F');
    assert.equal((await send(port, '/api')).body, 'g GET /');
    assert.equal((await send(port, '/api?x=1')).body, 'g GET /?x=1');
    assert.equal((await send(port, '/old/thing?q=1')).body, 'g GET /v1/thing?q=1');
  });

  it('takes the first matching route', async () => {
    assert.equal((await send(port, '/first/x')).body, 'g GET /first/x');
  });

  it('matches a prefix at a segment boundary', async () => {
    assert.equal((await send(port, '/administrator')).body, 'a GET /administrator');
    assert.equal((await send(port, '/admin')).body, 'b GET /admin');
    assert.equal((await send(port, '/admin/')).body, 'b GET /admin/');
    assert.equal((await send(port, '/apiary')).body, 'a GET /apiary');
  });

  it('routes and forwards the normalised path, so a route cannot be bypassed by spelling', async () => {
    for (const [target, seen] of [
      ['//admin', '/admin'],
      ['//admin//users', '/admin/users'],
      ['/x/../admin', '/admin'],
      ['/./admin', '/admin'],
      ['/%2e%2e/admin', '/admin'],
      ['/public/%2E%2E/admin/x?y=../z', '/admin/x?y=../z'],
      ['/%61dmin', '/admin'],
      ['/admin/..', '/'],
    ] as const) {
      const r = await send(port, target);
      const pool = seen === '/' ? 'a' : 'b';
      assert.equal(r.body, `${pool} GET ${seen}`, target);
    }
  });

  it('refuses encoded slashes and malformed escapes with 400 before any backend', async () => {
    const before = backends.reduce((n, b) => n + b.hits, 0);
    for (const target of ['/admin%2Fx', '/public%2f..%2fadmin', '/a%5C..%5Cadmin', '/a%zz', '/a%4']) {
      const r = await send(port, target);
      assert.equal(r.status, 400, target);
      assert.equal(r.body, 'L7_BAD_REQUEST', target);
    }
    assert.equal(
      backends.reduce((n, b) => n + b.hits, 0),
      before,
    );
  });

  it('compares paths with case unless the route says ignoreCase', async () => {
    assert.equal((await send(port, '/ADMIN')).body, 'a GET /ADMIN', 'case-sensitive by default (RFC 3986)');
    assert.equal((await send(port, '/case/x')).body, 'b GET /case/x');
    assert.equal((await send(port, '/CASE/x')).body, 'b GET /CASE/x');
  });
});

describe('route config', () => {
  const parse = (yaml: string) => {
    try {
      parseBalancerConfig(yaml, 'b.yaml');
      return [];
    } catch (err) {
      return (err as { details: string[] }).details;
    }
  };
  const withRoute = (route: string): string => ['pools:', '  p: { backends: [{ id: a, address: 127.0.0.1:1 }] }', 'routes:', `  - ${route}`].join('\n');

  it('names the field and line of each problem', () => {
    assert.deepEqual(parse(withRoute('{ match: { headers: [{ name: x, exact: a, prefix: b }] }, pool: p }')), [
      'b.yaml:4: routes.0.match.headers.0: needs exactly one of exact, prefix, regex, present (has exact, prefix)',
    ]);
    assert.deepEqual(parse(withRoute('{ match: { headers: [{ name: x }] }, pool: p }')), ['b.yaml:4: routes.0.match.headers.0: needs exactly one of exact, prefix, regex, present (has none)']);
    assert.deepEqual(parse(withRoute('{ match: { query: [{ name: x }] }, pool: p }')), ['b.yaml:4: routes.0.match.query.0: needs exactly one of exact, present']);
    assert.deepEqual(parse(withRoute('{ rewrite: { stripPrefix: true, replacePrefix: /x }, pool: p }')), ['b.yaml:4: routes.0.rewrite: needs exactly one of stripPrefix, replacePrefix']);
    assert.deepEqual(parse(withRoute('{ pathPrefix: /a, match: { pathPrefix: /b }, pool: p }')), ['b.yaml:4: routes.0.pathPrefix: given twice, here and in match.pathPrefix; keep one']);
    assert.match(
      parse(withRoute('{ match: { headers: [{ name: "bad name", present: true }] }, pool: p }'))[0]!,
      /^b\.yaml:4: .*routes\/0\/match\/headers\/0\/name|^b\.yaml:4: routes\.0\.match\.headers\.0\.name/,
    );
    assert.match(parse(withRoute('{ match: { methods: [] }, pool: p }'))[0]!, /^b\.yaml:4: /);
    assert.deepEqual(parse(withRoute('{ pool: constructor }')), ['b.yaml:4: routes.0.pool: no pool named "constructor"']);
  });

  it('refuses regexes that can backtrack without bound', () => {
    const details = parse(withRoute('{ match: { headers: [{ name: x, regex: "(a+)+$" }] }, pool: p }'));
    assert.equal(details.length, 1);
    assert.match(details[0]!, /^b\.yaml:4: routes\.0\.match\.headers\.0\.regex: repeats a group that holds a quantifier/);
    for (const bad of ['(a|a)*', '(a*)*', '((a|b)c)+', '(?:x+y)*', '(a)\\1', '(?=a)a', '(?<!a)b', '.*a.*b.*c', 'a?a?a?a?a?', '('.repeat(1) + 'x'.repeat(300) + ')', '[']) {
      assert.notEqual(regexProblem(bad), null, bad);
    }
    for (const good of ['v[0-9]+\\.[0-9]+', 'abc|def', '(foo|bar)-[a-z]{2,8}', '[(+*]+', 'a{3}', '\\(x+\\)*'.replace('*', '')]) {
      assert.equal(regexProblem(good), null, good);
    }
  });

  it('normalises paths as documented', () => {
    const n = (u: string) => {
      const r = normalizePath(u);
      return r.ok ? `${r.path}${r.query === '' ? '' : `?${r.query}`}` : 'refused';
    };
    assert.equal(n('/a/b?c=//..'), '/a/b?c=//..');
    assert.equal(n('/a/./b/../c/'), '/a/c/');
    assert.equal(n('/../../a'), '/a');
    assert.equal(n('/a/%7euser/%41%3a%3A'), '/a/~user/A%3A%3A');
    assert.equal(n('/a/.b/..c'), '/a/.b/..c');
    assert.equal(n('/a%2fb'), 'refused');
  });
});
