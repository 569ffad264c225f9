export { ParamLayout, BUFFER_ROLES, type ParamSpec, type ParamSegment, type ParamRole, type Placement } from './layout.ts';
export {
  Layer, Conv2d, Linear, ReLU, MaxPool2d, Flatten, BatchNorm2d, Dropout, AvgPool2d, AdaptiveAvgPool2d,
  type BindContext, type BoundLayer,
} from './layers.ts';
export { BasicBlock } from './resnet.ts';
export { lenet5, mlp, alexnetCifar, resnet18Cifar, modelByName, MODELS, type ModelDef } from './models.ts';
export { Network, type NetworkOptions, type StepOptions, type LossParts, type Lambda } from './network.ts';
export { LayerHarness, type LayerHarnessOptions } from './harness.ts';
export { initParameters, fanIn } from './init.ts';
export {
  DEFAULT_SPARSE_CROSSOVER, uploadCsr, releaseCsr,
  type SparseCrossover, type SparseLayerKind, type LayerPath, type SparseWeights,
} from './sparse-weights.ts';
export { SparseModel, type SparseModelOptions } from './sparse-model.ts';
export { TensorPool } from './pool.ts';
