// Every op case list, by family: the one list that Node and the browser both run.
import { activationCases } from './activations.cases.ts';
import { batchnormCases, batchnormFusedCases } from './batchnorm.cases.ts';
import { reduceCases } from './reduce.cases.ts';
import { convCases } from './conv.cases.ts';
import { lossCases } from './loss.cases.ts';
import { adamCases } from './adam.cases.ts';
import { randomCases } from './random.cases.ts';
import { upsampleCases } from './upsample.cases.ts';
import type { OpCase } from '../support/check.ts';

export const allOpCases: Record<string, OpCase[]> = {
  activations: activationCases,
  conv: convCases,
  batchnorm: [...batchnormCases, ...batchnormFusedCases],
  reduce: reduceCases,
  loss: lossCases,
  adam: adamCases,
  random: randomCases,
  upsample: upsampleCases,
};
