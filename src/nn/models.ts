// The paper's models, shaped exactly as in spec §6 (state_dict names match PyTorch's, so golden
// values and reference checkpoints line up parameter by parameter).
import { InvalidArgumentError } from '../errors.ts';
import { AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Layer, Linear, MaxPool2d, ReLU } from './layers.ts';
import { ParamLayout } from './layout.ts';
import { BasicBlock } from './resnet.ts';

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

/**
 * AlexNet for 32×32 CIFAR images as FedDIP's reference code defines it: 23,272,266 parameters at 10
 * classes. The 2×2 adaptive average pool after the features is the identity on 32×32 inputs; it is
 * kept so that the layer list, and what other input sizes would do, match the reference.
 */
export function alexnetCifar(classes = 10): ModelDef {
  return model('alexnet-cifar', [3, 32, 32], classes, [
    new Conv2d('features.0', 3, 64, 3, { stride: 2, padding: 1 }), new ReLU(), new MaxPool2d(2),
    new Conv2d('features.3', 64, 192, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
    new Conv2d('features.6', 192, 384, 3, { padding: 1 }), new ReLU(),
    new Conv2d('features.8', 384, 256, 3, { padding: 1 }), new ReLU(),
    new Conv2d('features.10', 256, 256, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
    new AdaptiveAvgPool2d(2),
    new Flatten(),
    new Dropout(0.5),
    new Linear('classifier.1', 1024, 4096), new ReLU(),
    new Dropout(0.5),
    new Linear('classifier.4', 4096, 4096), new ReLU(),
    new Linear('classifier.6', 4096, classes),
  ]);
}

/**
 * ResNet-18 for CIFAR (3×3 stem, no max-pool, four stages of two BasicBlocks, 4×4 average pool):
 * 11,220,132 trainable parameters at 100 classes, plus the running statistics of its 20 batch norms.
 */
export function resnet18Cifar(classes = 100): ModelDef {
  const layers: Layer[] = [new Conv2d('conv1', 3, 64, 3, { padding: 1, bias: false }), new BatchNorm2d('bn1', 64), new ReLU()];
  let inPlanes = 64;
  [[64, 1], [128, 2], [256, 2], [512, 2]].forEach(([planes, stride], stage) => {
    for (let i = 0; i < 2; i++) {
      layers.push(new BasicBlock(`layer${stage + 1}.${i}`, inPlanes, planes!, i === 0 ? stride! : 1));
      inPlanes = planes!;
    }
  });
  layers.push(new AvgPool2d(4), new Flatten(), new Linear('linear', 512, classes));
  return model('resnet18-cifar', [3, 32, 32], classes, layers);
}

export const MODELS: Record<string, (classes?: number) => ModelDef> = {
  lenet5, mlp, 'alexnet-cifar': alexnetCifar, 'resnet18-cifar': resnet18Cifar,
};

export function modelByName(name: string, classes?: number): ModelDef {
  const make = MODELS[name];
  if (!make) throw new InvalidArgumentError(`unknown model '${name}'; choose one of ${Object.keys(MODELS).join(', ')}`);
  return make(classes);
}
