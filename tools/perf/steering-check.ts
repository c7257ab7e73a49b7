/**
 * Before the steered figures of two servers are compared, each must be shown to steer: asked
 * for each steered name from a sample of the ECS mix's /24s, its answers must differ by
 * network and carry an ECS scope, and the share of networks where it answers as meridian does
 * says how close the two mappings are.
 */
import { udp } from '../../test/support/dns-client.js';
import { ecsOf, ecsOption } from '../../test/support/ecs.js';
import { ECS_NAMES, ECS_NETWORKS, ecsNetwork, fmt } from './dns-bench-kit.js';

/** Per steered name: the answer (sorted A addresses) and the ECS scope, network by network. */
export type SteeringSample = ReadonlyMap<string, { readonly answers: readonly string[]; readonly scopes: readonly number[] }>;

/** Every `step`-th network of the ECS mix, each steered name, A, over UDP. */
export async function sampleSteering(port: number, step = 10): Promise<SteeringSample> {
  const out = new Map<string, { answers: string[]; scopes: number[] }>();
  for (const name of ECS_NAMES) {
    const answers: string[] = [];
    const scopes: number[] = [];
    for (let i = 0; i < ECS_NETWORKS; i += step * 50) {
      const batch = Array.from({ length: 50 }, (_, k) => i + k * step).filter((n) => n < ECS_NETWORKS);
      const replies = await Promise.all(batch.map((n) => udp(port, name, 'A', { edns: true, options: [ecsOption(`${ecsNetwork(n).join('.')}.0/24`)] })));
      for (const { msg } of replies) {
        answers.push(
          msg.answers
            .filter((a) => a.type === 'A')
            .map((a) => String(a.data))
            .sort()
            .join(' '),
        );
        scopes.push(ecsOf(msg)?.scope ?? -1);
      }
    }
    out.set(name, { answers, scopes });
  }
  return out;
}

/** Whether `s` steers: some name has more than one answer over the sample, and some answer has an ECS scope above 0. */
export function steers(s: SteeringSample): boolean {
  return [...s.values()].some((v) => new Set(v.answers).size > 1) && [...s.values()].some((v) => v.scopes.some((x) => x > 0));
}

/** One line per name: distinct answers and scopes of each, and where they agree with `ref`. */
export function describeSteering(refName: string, ref: SteeringSample, otherName: string, other: SteeringSample): string[] {
  const lines: string[] = [];
  for (const [name, r] of ref) {
    const o = other.get(name)!;
    const same = r.answers.filter((a, i) => a === o.answers[i]).length;
    const scopes = (v: readonly number[]): string => {
      const withScope = v.filter((x) => x > 0);
      return withScope.length === 0 ? 'scope 0' : `scope > 0 in ${fmt((100 * withScope.length) / v.length)}% (${Math.min(...withScope)}..${Math.max(...withScope)})`;
    };
    lines.push(
      `  ${name.padEnd(18)} ${refName}: ${new Set(r.answers).size} answers, ${scopes(r.scopes)}; ${otherName}: ${new Set(o.answers).size} answers, ${scopes(o.scopes)}; same answer for ${fmt((100 * same) / r.answers.length, 1)}% of ${fmt(r.answers.length)} networks`,
    );
  }
  return lines;
}
