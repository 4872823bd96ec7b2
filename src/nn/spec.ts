// Model descriptions: layer specs, the presets, and shape inference. Pure data, no engine,
// so a run can size its memory before the engine exists.
//
// Parameter layout matches PyTorch's state_dict order and shapes, so weights can be exchanged:
// for each layer in order, its weight then its bias, contiguous in one flat f32 vector.
//   conv2d: weight [OC, C, KH, KW], bias [OC]      dense: weight [out, in], bias [out]
// Activations are NCHW and flatten keeps NCHW order (like torch.flatten(x, 1)).

export type LayerSpec =
  | { type: "conv2d"; out: number; kernel: number; stride?: number; padding?: number | "same" | "valid" }
  | { type: "maxpool2d"; kernel: number; stride?: number }
  | { type: "relu" }
  | { type: "flatten" }
  | { type: "dropout"; p: number }
  | { type: "dense"; out: number };

/** [C, H, W] for images, [F] after flatten. */
export type Shape = readonly number[];

export const PRESETS = {
  /** 784-128-10 multilayer perceptron. */
  mlp: [
    { type: "flatten" }, { type: "dense", out: 128 }, { type: "relu" }, { type: "dense", out: 10 },
  ],
  /** LeNet-style CNN for 1×28×28: conv5×5×32 valid → pool 2 → conv5×5×64 → pool 2 → dense 128 → dense 10. */
  lenet: [
    { type: "conv2d", out: 32, kernel: 5 }, { type: "relu" }, { type: "maxpool2d", kernel: 2 },
    { type: "conv2d", out: 64, kernel: 5 }, { type: "relu" }, { type: "maxpool2d", kernel: 2 },
    { type: "flatten" }, { type: "dense", out: 128 }, { type: "relu" }, { type: "dense", out: 10 },
  ],
  /** VGG-style CNN for 3×32×32: 2×conv3×3×32, pool, 2×conv3×3×64, pool, dense 256, dense 10 (padding same). */
  "cifar-cnn": [
    { type: "conv2d", out: 32, kernel: 3, padding: "same" }, { type: "relu" },
    { type: "conv2d", out: 32, kernel: 3, padding: "same" }, { type: "relu" },
    { type: "maxpool2d", kernel: 2 },
    { type: "conv2d", out: 64, kernel: 3, padding: "same" }, { type: "relu" },
    { type: "conv2d", out: 64, kernel: 3, padding: "same" }, { type: "relu" },
    { type: "maxpool2d", kernel: 2 },
    { type: "flatten" }, { type: "dense", out: 256 }, { type: "relu" }, { type: "dropout", p: 0.5 },
    { type: "dense", out: 10 },
  ],
} satisfies Record<string, LayerSpec[]>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** One layer after shape inference. */
export interface LayerPlan {
  readonly spec: LayerSpec;
  readonly inShape: Shape;
  readonly outShape: Shape;
  /** Float offset of this layer's weight in the flat parameter vector, and its counts. */
  readonly paramOffset: number;
  readonly weightCount: number;
  readonly biasCount: number;
  /** Conv only: kernel, stride and resolved padding. */
  readonly k?: number;
  readonly stride?: number;
  readonly pad?: number;
}

export interface ModelPlan {
  readonly layers: readonly LayerPlan[];
  readonly inputShape: Shape;
  readonly classes: number;
  readonly numParams: number;
}

const prod = (s: Shape) => s.reduce((a, b) => a * b, 1);

export class ModelError extends Error {}

export function resolveLayers(model: PresetName | readonly LayerSpec[]): readonly LayerSpec[] {
  if (typeof model !== "string") return model;
  const preset = PRESETS[model];
  if (!preset) throw new ModelError(`unknown model '${model}' (allowed: ${PRESET_NAMES.join(", ")})`);
  return preset as readonly LayerSpec[];
}

/** Infers every layer's shapes and parameter offsets; throws ModelError on a shape that does not fit. */
export function planModel(model: PresetName | readonly LayerSpec[], inputShape: Shape, classes: number): ModelPlan {
  const specs = resolveLayers(model);
  const name = typeof model === "string" ? model : "model";
  let shape: Shape = inputShape;
  let offset = 0;
  const layers: LayerPlan[] = [];
  specs.forEach((spec, i) => {
    const where = `${name} layer ${i} (${spec.type})`;
    const needImage = () => {
      if (shape.length !== 3) throw new ModelError(`${where} needs a [C,H,W] input, got [${shape.join(",")}]`);
      return shape as [number, number, number];
    };
    let out: Shape = shape, wc = 0, bc = 0, k: number | undefined, stride: number | undefined, pad: number | undefined;
    switch (spec.type) {
      case "conv2d": {
        const [C, H, W] = needImage();
        k = spec.kernel;
        stride = spec.stride ?? 1;
        pad = spec.padding === "same" ? (k - 1) >> 1 : spec.padding === "valid" || spec.padding === undefined ? 0 : spec.padding;
        if (spec.padding === "same" && (stride !== 1 || k % 2 === 0)) throw new ModelError(`${where}: padding "same" needs stride 1 and an odd kernel`);
        const OH = Math.floor((H + 2 * pad - k) / stride) + 1, OW = Math.floor((W + 2 * pad - k) / stride) + 1;
        if (!(OH >= 1 && OW >= 1)) throw new ModelError(`${where}: kernel ${k} does not fit a ${H}×${W} input with padding ${pad}`);
        out = [spec.out, OH, OW];
        wc = spec.out * C * k * k;
        bc = spec.out;
        break;
      }
      case "maxpool2d": {
        const [C, H, W] = needImage();
        k = spec.kernel;
        stride = spec.stride ?? spec.kernel;
        const OH = Math.floor((H - k) / stride) + 1, OW = Math.floor((W - k) / stride) + 1;
        if (!(OH >= 1 && OW >= 1)) throw new ModelError(`${where}: pool ${k} does not fit a ${H}×${W} input`);
        out = [C, OH, OW];
        break;
      }
      case "flatten":
        out = [prod(shape)];
        break;
      case "dense":
        if (shape.length !== 1) throw new ModelError(`${where} needs a flat input: add { type: "flatten" } before it`);
        out = [spec.out];
        wc = spec.out * shape[0];
        bc = spec.out;
        break;
      case "relu":
        break;
      case "dropout":
        if (!(spec.p >= 0 && spec.p < 1)) throw new ModelError(`${where}: p must be in [0, 1), got ${spec.p}`);
        break;
      default:
        throw new ModelError(`${where}: unknown layer type (allowed: conv2d, maxpool2d, relu, flatten, dropout, dense)`);
    }
    layers.push({ spec, inShape: shape, outShape: out, paramOffset: offset, weightCount: wc, biasCount: bc, k, stride, pad });
    offset += wc + bc;
    shape = out;
  });
  if (shape.length !== 1 || shape[0] !== classes) {
    throw new ModelError(`${name} ends in shape [${shape.join(",")}] but the dataset has ${classes} classes; the last layer must be dense ${classes}`);
  }
  return { layers, inputShape, classes, numParams: offset };
}

export const shapeSize = prod;
