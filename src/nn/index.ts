export { ParamLayout, type ParamSpec, type ParamSegment, type ParamRole, type Placement } from './layout.ts';
export { Layer, Conv2d, Linear, ReLU, MaxPool2d, Flatten, type BindContext, type BoundLayer } from './layers.ts';
export { lenet5, mlp, modelByName, MODELS, type ModelDef } from './models.ts';
export { Network, type StepOptions, type LossParts } from './network.ts';
export { initParameters, fanIn } from './init.ts';
