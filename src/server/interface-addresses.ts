import type os from 'node:os';

/** What os.networkInterfaces() returns: the addresses of each interface. */
export type InterfaceTable = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

/**
 * The addresses of `family` assigned to this machine's interfaces, sorted, each once: what a
 * wildcard listen address stands for. IPv6 link-local addresses (fe80::/10) are left out:
 * they need a zone index to bind and to answer from, and no resolver is sent to one by an NS
 * record. So are addresses the kernel treats as local without their being assigned (the rest
 * of 127.0.0.0/8 on Linux): nothing lists them.
 */
export function interfaceAddresses(family: 4 | 6, table: InterfaceTable): string[] {
  const out = new Set<string>();
  for (const infos of Object.values(table)) {
    for (const info of infos ?? []) {
      if (info.family !== (family === 4 ? 'IPv4' : 'IPv6')) continue;
      if (family === 6 && /^fe[89ab]/i.test(info.address)) continue;
      out.add(info.address);
    }
  }
  return [...out].sort();
}
