/** TCP probe: up when the connection is accepted; the socket is closed right away. */
import net from 'node:net';
import type { ProbeResult, TcpProbeSpec } from '../types.js';
import { success, type ProbeContext } from './guard.js';

export async function probeTcp(ctx: ProbeContext, spec: TcpProbeSpec, address: string): Promise<ProbeResult> {
  const socket = net.connect({ host: address, port: spec.port });
  ctx.own(socket); // destroyed when the probe settles, connected or not
  const rttMs = await new Promise<number>((resolve, reject) => {
    socket.once('connect', () => resolve(ctx.elapsed()));
    socket.on('error', reject);
  });
  return success(`connected in ${rttMs} ms`, rttMs);
}
