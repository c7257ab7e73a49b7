/** A UDP relay on 127.0.0.1 in front of the server under test that may alter each reply on its way back: a man in the middle for validation tests. */
import dgram from 'node:dgram';

export interface UdpRelay {
  readonly port: number;
  close(): void;
}

/** Relays each query to 127.0.0.1:`upstreamPort` and sends back `alter(reply)`. */
export async function startUdpRelay(upstreamPort: number, alter: (reply: Buffer) => Buffer): Promise<UdpRelay> {
  const relay = dgram.createSocket('udp4');
  relay.on('message', (query, client) => {
    const upstream = dgram.createSocket('udp4');
    upstream.once('message', (reply) => relay.send(alter(reply), client.port, client.address, () => upstream.close()));
    upstream.send(query, upstreamPort, '127.0.0.1');
  });
  await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', resolve));
  return { port: relay.address().port, close: () => relay.close() };
}
