/** The algorithm registry: name in the config → factory. */
import { createConsistentHash } from './consistent-hash.js';
import { createIpHash } from './ip-hash.js';
import { createLeastConnections } from './least-connections.js';
import { createLeastResponseTime } from './least-response-time.js';
import { createPowerOfTwo } from './power-of-two.js';
import { createRandom } from './random.js';
import { createRoundRobin } from './round-robin.js';
import type { AlgorithmEntry } from './types.js';
import { createWeightedRoundRobin } from './weighted-round-robin.js';

export const ALGORITHMS = {
  'round-robin': { create: createRoundRobin, hashBased: false },
  'weighted-round-robin': { create: createWeightedRoundRobin, hashBased: false },
  'least-connections': { create: createLeastConnections, hashBased: false },
  'least-response-time': { create: createLeastResponseTime, hashBased: false },
  'power-of-two': { create: createPowerOfTwo, hashBased: false },
  random: { create: createRandom, hashBased: false },
  'ip-hash': { create: createIpHash, hashBased: true },
  'consistent-hash': { create: createConsistentHash, hashBased: true },
} as const satisfies Record<string, AlgorithmEntry>;

export type AlgorithmName = keyof typeof ALGORITHMS;
export const ALGORITHM_NAMES = Object.keys(ALGORITHMS) as AlgorithmName[];
export type { Algorithm, AlgorithmOptions, PickContext } from './types.js';
