/** The health prober: one probe of any type against one address, never rejecting. */
import type { Prober } from '../types.js';
import { probeBalancer } from './balancer.js';
import { failure, guarded } from './guard.js';
import { probeHttp } from './http.js';
import { probeTcp } from './tcp.js';

export const runProbe: Prober = (spec, address, signal) =>
  guarded(spec, signal, (ctx) => {
    switch (spec.type) {
      case 'http':
      case 'https':
        return probeHttp(ctx, spec, address);
      case 'tcp':
        return probeTcp(ctx, spec, address);
      case 'balancer':
        return probeBalancer(ctx, spec, address);
      default: // unreachable for a validated config; still never reject
        return Promise.resolve(failure('error', `unknown probe type ${(spec as { type: string }).type}`));
    }
  });
