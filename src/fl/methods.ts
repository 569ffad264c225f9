// Methods selectable by name: FedDIP and its ablations (feddip.ts), and the reference mode and the
// baselines of spec §4–5, one file each under methods/.
import { InvalidArgumentError } from '../errors.ts';
import { fedavg, feddip, feddipNoIr } from './feddip.ts';
import type { MethodOptions } from './methods/common.ts';
import { feddipReference } from './methods/feddip-reference.ts';
import { feddst } from './methods/feddst.ts';
import { prunefl } from './methods/prunefl.ts';
import { prunetrain } from './methods/prunetrain.ts';
import { snip } from './methods/snip.ts';
import { topkEf } from './methods/topk-ef.ts';
import type { Strategy } from './strategy.ts';

export const METHODS = {
  feddip,
  'feddip-noir': feddipNoIr,
  fedavg,
  'feddip-reference': feddipReference,
  snip,
  prunefl,
  feddst,
  prunetrain,
  'topk-ef': topkEf,
} satisfies Record<string, (o?: Partial<MethodOptions>) => Strategy>;

export type MethodName = keyof typeof METHODS;

export function createStrategy(name: string, options: Partial<MethodOptions> = {}): Strategy {
  const make = (METHODS as Record<string, (o?: Partial<MethodOptions>) => Strategy>)[name];
  if (!make) throw new InvalidArgumentError(`unknown method '${name}'; choose one of ${Object.keys(METHODS).join(', ')}`);
  // An option left undefined (e.g. a flag not given) means "the method's default", not "undefined".
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<MethodOptions>;
  return make(given);
}
