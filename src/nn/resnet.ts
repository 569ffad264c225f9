// The residual block of the CIFAR ResNets (He et al. 2016, in the CIFAR form FedDIP's reference
// code uses): y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the shortcut is the
// identity, or — when the block changes the stride or the width — a 1×1 convolution with the
// block's stride followed by batch norm. Parameter names follow torch's state_dict of that module
// (conv1, bn1, conv2, bn2, shortcut.0, shortcut.1) under the block's prefix.
import type { Tensor } from '../backend/tensor.ts';
import { InvalidArgumentError } from '../errors.ts';
import { BatchNorm2d, type BindContext, type BoundLayer, Conv2d, Layer, positiveInt, qualified, ReLU, withInputGrad } from './layers.ts';
import type { ParamSpec } from './layout.ts';

export class BasicBlock extends Layer {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  /**
   * The projection shortcut, present when the shape changes. Its convolution is left dense, as in
   * the reference code's pruning (spec §1): it is not in the prunable set P.
   */
  readonly shortcut: { conv: Conv2d; bn: BatchNorm2d } | undefined;

  constructor(readonly name: string, readonly inPlanes: number, readonly planes: number, readonly stride = 1) {
    super();
    positiveInt(`${name || 'BasicBlock'}: stride`, stride);
    const at = (n: string) => qualified(name, n);
    this.conv1 = new Conv2d(at('conv1'), inPlanes, planes, 3, { stride, padding: 1, bias: false });
    this.bn1 = new BatchNorm2d(at('bn1'), planes);
    this.conv2 = new Conv2d(at('conv2'), planes, planes, 3, { padding: 1, bias: false });
    this.bn2 = new BatchNorm2d(at('bn2'), planes);
    this.shortcut = stride !== 1 || inPlanes !== planes
      ? {
        conv: new Conv2d(at('shortcut.0'), inPlanes, planes, 1, { stride, bias: false, prunable: false }),
        bn: new BatchNorm2d(at('shortcut.1'), planes),
      }
      : undefined;
  }

  override params(): ParamSpec[] {
    const layers: Layer[] = [this.conv1, this.bn1, this.conv2, this.bn2];
    if (this.shortcut) layers.push(this.shortcut.conv, this.shortcut.bn);
    return layers.flatMap((l) => l.params());
  }

  outputShape(input: readonly number[]): number[] {
    if (input.length !== 3 || input[0] !== this.inPlanes) {
      throw new InvalidArgumentError(`${this.name || 'BasicBlock'}: expects input [${this.inPlanes}, H, W], got [${input.join(', ')}]`);
    }
    return this.conv2.outputShape(this.conv1.outputShape(input));
  }

  bind(ctx: BindContext, input: readonly number[]): BoundLayer {
    const outShape = this.outputShape(input);
    const mid = this.conv1.outputShape(input);
    // Inner layers always pass a gradient on; the two that read the block's input only when the
    // block itself must produce one.
    const inner = withInputGrad(ctx, true);
    const edge = withInputGrad(ctx, ctx.needInputGrad);
    // The batch norms' outputs are read once, by the next kernel of the forward pass (their
    // backward reads their input, the ReLUs' backward their output), so they live in the pool.
    const passOn = withInputGrad(ctx, true, true);
    const bound: BoundLayer[] = [];
    const add = <B extends BoundLayer>(b: B): B => (bound.push(b), b);
    try {
      const c1 = add(this.conv1.bind(edge, input));
      const b1 = add(this.bn1.bind(passOn, mid));
      const r1 = add(new ReLU().bind(inner, mid));
      const c2 = add(this.conv2.bind(inner, mid));
      const b2 = add(this.bn2.bind(passOn, outShape));
      const sc = this.shortcut && {
        conv: add(this.shortcut.conv.bind(edge, input)),
        bn: add(this.shortcut.bn.bind(passOn, outShape)),
      };
      const r2 = add(new ReLU().bind(inner, outShape));
      const { backend, pool } = ctx;
      const sumShape = [ctx.batch, ...outShape];
      const inShape = [ctx.batch, ...input];
      return {
        output: r2.output,
        forward: (x: Tensor, training: boolean) => {
          c1.forward(x, training);
          b1.forward(c1.output, training);
          r1.forward(b1.output, training);
          pool.give(b1.output);
          c2.forward(r1.output, training);
          b2.forward(c2.output, training);
          let skip = x;
          if (sc) {
            sc.conv.forward(x, training);
            sc.bn.forward(sc.conv.output, training);
            skip = sc.bn.output;
          }
          // The sum is read only by the last ReLU, whose backward reads its own output instead.
          const sum = pool.take(sumShape);
          backend.add({ a: b2.output, b: skip, y: sum });
          pool.give(b2.output);
          if (sc) pool.give(sc.bn.output);
          r2.forward(sum, training);
          pool.give(sum);
        },
        backward: (dy: Tensor) => {
          const dsum = r2.backward(dy)!;
          // dsum feeds both branches; each backward gives back its dy, so it gets a second holder.
          pool.hold(dsum);
          const dMain = c1.backward(b1.backward(r1.backward(c2.backward(b2.backward(dsum)!)!)!)!);
          const dSkip = sc ? sc.conv.backward(sc.bn.backward(dsum)!) : dsum;
          // x feeds both branches, so its gradient is the sum of theirs.
          let dx: Tensor | undefined;
          if (dMain) {
            dx = pool.take(inShape);
            backend.add({ a: dMain, b: dSkip!, y: dx });
          }
          pool.give(dMain);
          pool.give(dSkip);
          return dx;
        },
        release: () => {
          for (const b of bound) b.release();
        },
      };
    } catch (error) {
      for (const b of bound) b.release();
      throw error;
    }
  }
}
