// The bench suites, in the order they run. A suite exports `name` and `run(ctx)`; see ../bench.mjs.
import * as kernels from './kernels.mjs';
import * as lenet5 from './lenet5.mjs';
import * as flRound from './fl-round.mjs';
import * as aggregator from './aggregator.mjs';
import * as models from './models.mjs';
import * as sparse from './sparse.mjs';
import * as webgpu from './webgpu.mjs';

export const suites = [kernels, lenet5, models, sparse, flRound, aggregator, webgpu];
