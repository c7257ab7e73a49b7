/**
 * Graceful shutdown, as systemd and Docker do it (SIGTERM, then SIGKILL after a grace
 * period): meridian stops accepting at once, sends every answer to the queries it has read,
 * closes its connections cleanly and exits 0.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, frame } from '../support/dns-client.js';
import { servingPorts, startCliServer } from '../support/process.js';
import { fixtureZones } from '../support/test-server.js';

const QUERIES = 50;

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-shutdown-'));
  // No state file: the test must not write into the working folder.
  fs.writeFileSync(path.join(dir, 'meridian.yaml'), 'health: { stateFile: null }\nzones: { watch: false }\n');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Reads length-framed answers until the server closes the connection. */
function collect(socket: net.Socket): Promise<{ answers: Buffer[]; ended: boolean }> {
  return new Promise((resolve) => {
    const answers: Buffer[] = [];
    let pending = Buffer.alloc(0);
    let ended = false;
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        answers.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
    });
    socket.on('end', () => (ended = true));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ answers, ended }));
  });
}

describe('SIGTERM', () => {
  it('answers every query already received, closes cleanly, refuses new connections and exits 0', async () => {
    const server = await startCliServer(['--config', path.join(dir, 'meridian.yaml'), '--zones', fixtureZones, '--listen', '127.0.0.1:0']);
    const port = servingPorts(server.output()).dns;
    const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
    try {
      const client = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
      // A client slow to read: its answers wait in buffers when the signal comes.
      client.pause();
      const result = collect(client);
      const ids = Array.from({ length: QUERIES }, (_, i) => i + 1);
      client.write(Buffer.concat(ids.map((id) => frame(buildQuery('www.rules.test', 'A', { id })))));
      await new Promise((r) => setTimeout(r, 300));

      server.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      // The listener is closed at once, while the old connection is still being served.
      const refused = await new Promise<boolean>((resolve) => {
        const late = net.connect(port, '127.0.0.1');
        late.once('connect', () => (late.destroy(), resolve(false)));
        late.once('error', () => resolve(true));
      });
      assert.ok(refused, 'a new connection after SIGTERM is refused');

      client.resume();
      const { answers, ended } = await result;
      assert.equal(answers.length, QUERIES, 'every query sent before SIGTERM is answered');
      assert.deepEqual(
        answers.map((a) => decode(a).id),
        ids,
      );
      assert.ok(ended, 'the server closed the connection with a FIN, not a reset');
      assert.equal(await exited, 0);
      assert.match(server.output(), /shutting down/);
    } finally {
      await server.stop();
    }
  });
});
