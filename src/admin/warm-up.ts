/**
 * The record write path run at start-up as dry runs (`?dryRun=true`: checked and built,
 * nothing written), so that the first admin write does not compile that code while queries
 * wait: V8 compiles a function when it first runs, and the first PUT after a start held the
 * answering thread about 14 ms longer than the ones after it (a 1,000,000-record zone under
 * load: PUT window p99.9 8.5-10.4 ms cold, 5.1-8.3 ms warm; README "Benchmarks").
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { nameToText } from '../dns/name.js';
import type { RRsetJson, ZoneEditor } from '../control/zone-editor.js';
import type { ZoneDirectory } from '../control/zone-directory.js';

/** Enough for V8 to have compiled, and given feedback to, every function on the way. */
const ROUNDS = 3;

/**
 * Dry runs of a PUT on the first zone with a served version: its apex NS as it is, and an A
 * RRset at a name below the apex, through the editor; and, when the API has no token (so the
 * request needs none), the same PUT through the routes, hooks and serializers. Best effort: a
 * refusal only means less is warm. Over a real connection to the listener, as a client's
 * (the HTTP parser is on the way, and the browser guard wants the address a request came to).
 * Returns how many dry runs were answered.
 */
export async function warmWritePath(editor: ZoneEditor, zones: ZoneDirectory, opts: { readonly listener: AddressInfo | null }): Promise<number> {
  const zone = zones.statuses.find((s) => s.zone)?.zone;
  if (!zone) return 0;
  const origin = nameToText(zone.origin);
  let ns: RRsetJson | undefined;
  try {
    ns = editor.records(origin, origin, 'NS')[0];
  } catch {
    ns = undefined; // a warm-up never stops a start
  }
  let done = 0;
  const attempt = async (write: () => Promise<unknown>): Promise<void> => {
    try {
      await write();
      done++;
    } catch {
      // a zone this write cannot touch (refused like any write): less is warm, nothing else
    }
  };
  for (let i = 0; i < ROUNDS; i++) {
    if (ns !== undefined) await attempt(() => editor.putRRset(origin, origin, 'NS', { ttl: ns.ttl, rdata: ns.rdata }, undefined, true));
    await attempt(() => editor.putRRset(origin, `meridian-warm-up.${origin}`, 'A', { ttl: 300, rdata: ['192.0.2.1'] }, undefined, true));
    const listener = opts.listener;
    if (listener !== null)
      await attempt(() => put(listener, `/v1/zones/${encodeURIComponent(origin)}/records/${encodeURIComponent(`meridian-warm-up.${origin}`)}/A?dryRun=true`, { ttl: 300, rdata: ['192.0.2.1'] }));
  }
  return done;
}

function put(listener: AddressInfo, path: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(
      {
        host: listener.address === '0.0.0.0' ? '127.0.0.1' : listener.address === '::' ? '::1' : listener.address,
        port: listener.port,
        method: 'PUT',
        path,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: 5000,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
