// The paper's models, shaped exactly as in spec §6 (state_dict names match PyTorch's, so golden
// values and reference checkpoints line up parameter by parameter).
import { InvalidArgumentError } from '../errors.ts';
import { Conv2d, Flatten, Layer, Linear, MaxPool2d, ReLU } from './layers.ts';
import { ParamLayout } from './layout.ts';

export interface ModelDef {
  name: string;
  /** Shape of one input sample, e.g. [1, 28, 28]. */
  inputShape: number[];
  classes: number;
  layers: Layer[];
  layout: ParamLayout;
}

function model(name: string, inputShape: number[], classes: number, layers: Layer[]): ModelDef {
  let shape = inputShape;
  for (const layer of layers) shape = layer.outputShape(shape);
  if (shape.length !== 1 || shape[0] !== classes) {
    throw new InvalidArgumentError(`${name}: the layers end in [${shape.join(', ')}], expected [${classes}]`);
  }
  return { name, inputShape, classes, layers, layout: new ParamLayout(layers.flatMap((l) => l.params())) };
}

/** LeNet-5 as FedDIP uses it on (Fashion-)MNIST: 61,706 parameters. */
export function lenet5(classes = 10): ModelDef {
  return model('lenet5', [1, 28, 28], classes, [
    new Conv2d('features.0', 1, 6, 5, { padding: 2 }), new ReLU(), new MaxPool2d(2),
    new Conv2d('features.3', 6, 16, 5), new ReLU(), new MaxPool2d(2),
    new Flatten(),
    new Linear('classifier.0', 400, 120), new ReLU(),
    new Linear('classifier.2', 120, 84), new ReLU(),
    new Linear('classifier.4', 84, classes),
  ]);
}

/** The two-hidden-layer perceptron of the FedAvg paper (784-200-200-10): 199,210 parameters. */
export function mlp(classes = 10, inputShape: number[] = [1, 28, 28], hidden = 200): ModelDef {
  const inputs = inputShape.reduce((a, b) => a * b, 1);
  return model('mlp', inputShape, classes, [
    new Flatten(),
    new Linear('fc1', inputs, hidden), new ReLU(),
    new Linear('fc2', hidden, hidden), new ReLU(),
    new Linear('fc3', hidden, classes),
  ]);
}

export const MODELS: Record<string, (classes?: number) => ModelDef> = { lenet5, mlp };

export function modelByName(name: string, classes?: number): ModelDef {
  const make = MODELS[name];
  if (!make) throw new InvalidArgumentError(`unknown model '${name}'; choose one of ${Object.keys(MODELS).join(', ')}`);
  return make(classes);
}
