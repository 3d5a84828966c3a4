// Network kernels of the resident backend: convolutions and their gradients, pooling, matmul, batch norm (including the
// fused training-mode kernels the BatchNormalization layer patch calls). Padding and output shapes come from tfjs'
// computeConv2DInfo/computePool2DInfo, as on the "torch" backend (../native/kernels, whose checks are reused).
import * as tf from "@tensorflow/tfjs";
import type { ResidentAddon } from "./addon";
import {
  BN_TRAIN_GRAD_KERNEL, BN_TRAIN_KERNEL, UNSUPPORTED, activationCode, bnChannels, convInfo, convOpts, matMulShapes, poolOpts,
} from "../native/kernels";
import { attrsOf, backendOf, handleOf, input, optHandle, sizeOf, type KernelArgs, type NativeKernel } from "./kernelArgs";

const PRELU = 6; // the addon's fused-activation code for prelu (it takes the weights as an input)

/** [activation code, alpha, prelu weights handle] of a fused kernel. */
function fusedActivation(args: KernelArgs): [number, number, number] {
  const a = attrsOf(args);
  const b = backendOf(args);
  const alpha = Number(a.leakyreluAlpha ?? 0.2);
  if (a.activation === "prelu") return [PRELU, alpha, handleOf(b, (args.inputs as Record<string, tf.TensorInfo>).preluActivationWeights)];
  return [activationCode(a.activation), alpha, -1];
}

const floats = (...ts: (tf.TensorInfo | undefined)[]) => {
  if (ts.some((t) => t && t.dtype !== "float32")) throw UNSUPPORTED;
};

function conv(addon: ResidentAddon, depthwise: boolean, fused: boolean): NativeKernel {
  return (args) => {
    const b = backendOf(args);
    const x = input(args, "x"), filter = input(args, "filter");
    const bias = fused ? (args.inputs as Record<string, tf.TensorInfo | undefined>).bias : undefined;
    floats(x, filter, bias);
    const info = convInfo(x.shape, filter.shape, attrsOf(args), depthwise);
    const opts = convOpts(info, depthwise);
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== info.outChannels)) throw UNSUPPORTED; // scalar bias
    const [act, alpha, prelu] = fused ? fusedActivation(args) : [0, 0, -1];
    const y = addon.conv2d(handleOf(b, x), handleOf(b, filter), opts, optHandle(b, bias), act, alpha, prelu);
    return b.adopt(y, info.outShape, "float32");
  };
}

function convBackpropInput(addon: ResidentAddon, depthwise: boolean): NativeKernel {
  return (args) => {
    const b = backendOf(args);
    const dy = input(args, "dy"), filter = input(args, "filter");
    floats(dy, filter);
    const a = attrsOf(args);
    const inShape = a.inputShape as number[];
    const info = convInfo(inShape, filter.shape, a, depthwise, depthwise ? undefined : 1);
    const opts = convOpts(info, depthwise);
    if (dy.shape.some((d, i) => d !== info.outShape[i])) throw UNSUPPORTED;
    return b.adopt(addon.conv2dBackpropInput(handleOf(b, dy), handleOf(b, filter), inShape, opts), inShape, "float32");
  };
}

function convBackpropFilter(addon: ResidentAddon, depthwise: boolean): NativeKernel {
  return (args) => {
    const b = backendOf(args);
    const x = input(args, "x"), dy = input(args, "dy");
    floats(x, dy);
    const a = attrsOf(args);
    const filterShape = a.filterShape as number[];
    const info = convInfo(x.shape, filterShape, a, depthwise, depthwise ? undefined : 1);
    const opts = convOpts(info, depthwise);
    if (dy.shape.some((d, i) => d !== info.outShape[i])) throw UNSUPPORTED;
    return b.adopt(addon.conv2dBackpropFilter(handleOf(b, x), handleOf(b, dy), filterShape, opts), filterShape, "float32");
  };
}

function pool(addon: ResidentAddon, op: number): NativeKernel {
  return (args) => {
    const b = backendOf(args);
    const x = input(args, "x");
    floats(x);
    if (x.shape.length !== 4) throw UNSUPPORTED;
    const { info, opts } = poolOpts(x.shape, attrsOf(args), op);
    return b.adopt(addon.pool(op, handleOf(b, x), opts), info.outShape, "float32");
  };
}

function poolGrad(addon: ResidentAddon, op: number): NativeKernel {
  return (args) => {
    const b = backendOf(args);
    const dy = input(args, "dy"), x = input(args, "input");
    floats(dy, x);
    if (x.shape.length !== 4) throw UNSUPPORTED;
    const { info, opts } = poolOpts(x.shape, attrsOf(args), op);
    if (dy.shape.some((d, i) => d !== info.outShape[i])) throw UNSUPPORTED;
    // tfjs' AvgPoolGrad divides by the whole window even where the forward pass averaged fewer (padded) cells.
    if (op === 1 && opts.slice(4).some((v) => v !== 0)) throw UNSUPPORTED;
    return b.adopt(addon.poolGrad(op, handleOf(b, dy), handleOf(b, x), opts), x.shape, "float32");
  };
}

/** Shapes as the torch backend's (matMulShapes); anything it does not cover takes the fallback. */
function matMul(addon: ResidentAddon, fused: boolean): NativeKernel {
  return (args) => {
    const bk = backendOf(args);
    const a = input(args, "a"), b = input(args, "b");
    const bias = fused ? (args.inputs as Record<string, tf.TensorInfo | undefined>).bias : undefined;
    floats(a, b, bias);
    const at = attrsOf(args);
    const ta = Boolean(at.transposeA), tb = Boolean(at.transposeB);
    const { outer, batchA, batchB, ar, ac, br, bc, m, n } = matMulShapes(a.shape, b.shape, ta, tb);
    if (bias && (sizeOf(bias.shape) !== n || bias.shape[bias.shape.length - 1] !== n)) throw UNSUPPORTED;
    const [act, alpha, prelu] = fused ? fusedActivation(args) : [0, 0, -1];
    const shape = [...outer, m, n];
    const y = addon.matmul(handleOf(bk, a), handleOf(bk, b), [batchA, ar, ac], [batchB, br, bc], ta, tb, optHandle(bk, bias), act, alpha, prelu, shape);
    return bk.adopt(y, shape, "float32");
  };
}

export function nnKernels(addon: ResidentAddon): Record<string, NativeKernel> {
  return {
    Conv2D: conv(addon, false, false),
    FusedConv2D: conv(addon, false, true),
    DepthwiseConv2dNative: conv(addon, true, false),
    FusedDepthwiseConv2D: conv(addon, true, true),
    Conv2DBackpropInput: convBackpropInput(addon, false),
    Conv2DBackpropFilter: convBackpropFilter(addon, false),
    DepthwiseConv2dNativeBackpropInput: convBackpropInput(addon, true),
    DepthwiseConv2dNativeBackpropFilter: convBackpropFilter(addon, true),
    MaxPool: pool(addon, 0),
    AvgPool: pool(addon, 1),
    MaxPoolGrad: poolGrad(addon, 0),
    AvgPoolGrad: poolGrad(addon, 1),
    BatchMatMul: matMul(addon, false),
    _FusedMatMul: matMul(addon, true),
    FusedBatchNorm: (args) => {
      const b = backendOf(args);
      const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      if (!x || !mean || !variance) throw UNSUPPORTED;
      floats(x, mean, variance, offset, scale);
      bnChannels(x, mean, variance, offset, scale);
      const eps = Number(attrsOf(args).varianceEpsilon ?? 0.001);
      const y = addon.batchNorm(handleOf(b, x), handleOf(b, mean), handleOf(b, variance), optHandle(b, offset), optHandle(b, scale), eps);
      return b.adopt(y, x.shape, "float32");
    },
    // {x, gamma, beta}, {varianceEpsilon} → [y, mean, variance]
    [BN_TRAIN_KERNEL]: (args) => {
      const b = backendOf(args);
      const x = input(args, "x"), gamma = input(args, "gamma"), beta = input(args, "beta");
      const c = bnChannels(x, gamma, beta);
      const [y, mean, variance] = addon.batchNormTrain(handleOf(b, x), handleOf(b, gamma), handleOf(b, beta), Number(attrsOf(args).varianceEpsilon));
      return [b.adopt(y, x.shape, "float32"), b.adopt(mean, [c], "float32"), b.adopt(variance, [c], "float32")];
    },
    // {x, dy, mean, variance, gamma, dMean?, dVariance?}, {varianceEpsilon} → [dx, dGamma, dBeta]
    [BN_TRAIN_GRAD_KERNEL]: (args) => {
      const b = backendOf(args);
      const { x, dy, mean, variance, gamma, dMean, dVariance } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      if (!x || !dy || !mean || !variance || !gamma) throw new Error(`${BN_TRAIN_GRAD_KERNEL}: missing inputs`);
      const c = bnChannels(x, mean, variance, gamma, dMean, dVariance);
      const [dx, dg, db] = addon.batchNormTrainGrad(
        handleOf(b, x), handleOf(b, dy), handleOf(b, mean), handleOf(b, variance), handleOf(b, gamma),
        optHandle(b, dMean), optHandle(b, dVariance), Number(attrsOf(args).varianceEpsilon),
      );
      return [b.adopt(dx, x.shape, "float32"), b.adopt(dg, [c], "float32"), b.adopt(db, [c], "float32")];
    },
  };
}
