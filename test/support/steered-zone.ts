/** A zone with nothing but its SOA and NS, and a policy file beside it: for tests about steering alone. */
import fs from 'node:fs';
import path from 'node:path';

/** Writes `<origin>.zone` (SOA, NS, ns1's address) and `<origin>.policy.yaml` with `policy` into dir. */
export function writeSteeredZone(dir: string, origin: string, policy: string): void {
  fs.writeFileSync(path.join(dir, `${origin}.zone`), `$ORIGIN ${origin}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n`);
  fs.writeFileSync(path.join(dir, `${origin}.policy.yaml`), policy);
}
