/**
 * Least response time: the lowest smoothed latency × (in flight + 1), per unit of weight, so
 * a fast backend gets more but not all of the load once its queue grows. A backend with no
 * measurement yet scores 0 and gets tried first.
 */
import { lowestScore } from './lowest-score.js';
import type { Algorithm } from './types.js';

export function createLeastResponseTime(): Algorithm {
  return lowestScore((b) => (b.latencyMs * (b.inFlight + 1)) / b.weight);
}
