// Methods selectable by name.
import { InvalidArgumentError } from '../errors.ts';
import { fedavg, feddip, feddipNoIr, type FedDipOptions } from './feddip.ts';
import type { Strategy } from './strategy.ts';

export const METHODS = {
  feddip,
  'feddip-noir': feddipNoIr,
  fedavg,
} satisfies Record<string, (o?: Partial<FedDipOptions>) => Strategy>;

export type MethodName = keyof typeof METHODS;

export function createStrategy(name: string, options: Partial<FedDipOptions> = {}): Strategy {
  const make = (METHODS as Record<string, (o?: Partial<FedDipOptions>) => Strategy>)[name];
  if (!make) throw new InvalidArgumentError(`unknown method '${name}'; choose one of ${Object.keys(METHODS).join(', ')}`);
  return make(options);
}
