/** The generated zone of the zone benchmarks (tools/zone-load-bench.ts, tools/reload-loop-delay.ts). */
import fs from 'node:fs';

/** A mix like a real large zone: hosts with A and AAAA, some MX, TXT and CNAME. */
export function writeBigZone(file: string, count: number): void {
  const fd = fs.openSync(file, 'w');
  const lines: string[] = ['$ORIGIN big.test.', '$TTL 3600', '@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300', '@ IN NS ns1', 'ns1 IN A 192.0.2.1'];
  let written = 2;
  for (let i = 0; written < count; i++) {
    const host = `host${i}`;
    lines.push(`${host} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    lines.push(`${host} IN AAAA 2001:db8::${(i & 0xffff).toString(16)}:${((i >> 16) & 0xffff).toString(16)}`);
    written += 2;
    if (i % 10 === 0) {
      lines.push(`${host} IN TXT "record ${i}"`);
      written++;
    }
    if (i % 20 === 0) {
      lines.push(`www.${host} IN CNAME ${host}`);
      written++;
    }
    if (lines.length > 10_000) {
      fs.writeSync(fd, lines.join('\n') + '\n');
      lines.length = 0;
    }
  }
  fs.writeSync(fd, lines.join('\n') + '\n');
  fs.closeSync(fd);
}
