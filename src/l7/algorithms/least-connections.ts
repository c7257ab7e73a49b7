/** Weighted least connections: the backend with the fewest requests in flight per unit of weight. */
import { lowestScore } from './lowest-score.js';
import type { Algorithm } from './types.js';

export function createLeastConnections(): Algorithm {
  return lowestScore((b) => b.inFlight / b.weight);
}
