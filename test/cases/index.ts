// Every op case list, by family: the one list that Node and the browser both run.
import { activationCases } from './activations.cases.ts';
import type { OpCase } from '../support/check.ts';

export const allOpCases: Record<string, OpCase[]> = {
  activations: activationCases,
};
