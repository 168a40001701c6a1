/**
 * The model card (models/<model>/<version>/<model>.json): what the ONNX file is, its sha256, its labels, and exactly how an
 * image becomes its input tensor. The service reads every preprocessing choice from here, never from code, so
 * a retrained model with another normalisation or size needs no code change.
 */
import { readFile } from "node:fs/promises";

export const RESIZE_FITS = ["cover", "contain", "fill", "inside", "outside"] as const;
export const RESIZE_KERNELS = ["nearest", "linear", "cubic", "mitchell", "lanczos2", "lanczos3", "mks2013", "mks2021"] as const;
export const RESIZE_POSITIONS = [
  "centre",
  "center",
  "top",
  "right top",
  "right",
  "right bottom",
  "bottom",
  "left bottom",
  "left",
  "left top",
  "north",
  "northeast",
  "east",
  "southeast",
  "south",
  "southwest",
  "west",
  "northwest",
  "entropy",
  "attention",
] as const;

export type ResizeFit = (typeof RESIZE_FITS)[number];
export type ResizeKernel = (typeof RESIZE_KERNELS)[number];
export type ResizePosition = (typeof RESIZE_POSITIONS)[number];
export type Rgb = readonly [number, number, number];

export interface TensorSpec {
  readonly name: string;
  readonly dtype: "float32";
  /** -1 marks the variable batch dimension. */
  readonly shape: readonly number[];
}

export interface Preprocessing {
  /** Colour transparent pixels are composited onto, 0-255 per channel. */
  readonly flattenOnto: Rgb;
  readonly resize: {
    readonly width: number;
    readonly height: number;
    readonly fit: ResizeFit;
    readonly position: ResizePosition;
    readonly kernel: ResizeKernel;
  };
  /** Multiplies the 0-255 pixel value before normalisation (1/255). */
  readonly scale: number;
  readonly mean: Rgb;
  readonly std: Rgb;
}

export interface ModelCard {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly sha256: string;
  /** The ONNX file's name, beside the card in its version's directory. @default "<name>.onnx" */
  readonly file: string;
  readonly labels: readonly string[];
  /** NCHW float32, shape [-1, 3, height, width]. */
  readonly input: TensorSpec;
  /** float32 logits, shape [-1, labels.length]. */
  readonly output: TensorSpec;
  readonly preprocessing: Preprocessing;
  /** Top-1 accuracy on the held-out test set, when the card reports one. */
  readonly evaluatedTop1: number | undefined;
}

/** One item's dimensions: the tensor's shape without its leading batch dimension ([3, 32, 32] for CIFAR-10 input). */
export function itemShape(spec: Pick<TensorSpec, "shape">): readonly number[] {
  return spec.shape.slice(1);
}

/** Floats in one item of the tensor, the product of its item shape (3 x 32 x 32 = 3072 for CIFAR-10 input). */
export function itemSize(spec: Pick<TensorSpec, "shape">): number {
  return itemShape(spec).reduce((product, dimension) => product * dimension, 1);
}

export class ModelCardError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`Model card ${path}: ${problem}`);
    this.name = "ModelCardError";
  }
}

/** Reads and validates a model card; throws a ModelCardError naming the first bad field. */
export async function loadModelCard(path: string): Promise<ModelCard> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ModelCardError(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelCardError(path, `is not valid JSON (${(error as Error).message})`);
  }
  return parseModelCard(json, path);
}

/** Validates a parsed model card. */
export function parseModelCard(json: unknown, path = "<model card>"): ModelCard {
  const fail = (field: string, expected: string): never => {
    throw new ModelCardError(path, `field "${field}" must be ${expected}`);
  };
  const root = asObject(json) ?? fail("(root)", "a JSON object");
  const str = (obj: Record<string, unknown>, key: string, field: string): string => {
    const v = obj[key];
    return typeof v === "string" && v.length > 0 ? v : fail(field, "a non-empty string");
  };
  const num = (v: unknown, field: string, ok: (n: number) => boolean, expected: string): number =>
    typeof v === "number" && Number.isFinite(v) && ok(v) ? v : fail(field, expected);
  const rgb = (v: unknown, field: string, ok: (n: number) => boolean, expected: string): Rgb => {
    if (!Array.isArray(v) || v.length !== 3) return fail(field, `an array of 3 numbers, each ${expected}`);
    return [0, 1, 2].map((i) => num(v[i], `${field}[${i}]`, ok, expected)) as unknown as Rgb;
  };
  const oneOf = <T extends string>(v: unknown, field: string, values: readonly T[]): T =>
    values.find((x) => x === v) ?? fail(field, `one of ${values.join(", ")}`);

  const name = str(root, "name", "name");
  const version = str(root, "version", "version");
  const sha256 = str(root, "sha256", "sha256").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) fail("sha256", "64 hexadecimal digits");

  const file = root["file"] === undefined ? `${name}.onnx` : str(root, "file", "file");
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*\.onnx$/.test(file)) fail("file", "a file name ending in .onnx, without a directory");

  const labels = root["labels"];
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === "string" && l.length > 0)) {
    fail("labels", "an array of at least 2 non-empty strings");
  }
  const labelList = labels as string[];
  if (new Set(labelList).size !== labelList.length) fail("labels", "unique");

  const tensor = (key: "input" | "output"): TensorSpec => {
    const obj = asObject(root[key]) ?? fail(key, "an object");
    const dtype = obj["dtype"] ?? "float32";
    if (dtype !== "float32") fail(`${key}.dtype`, '"float32"');
    const shape = obj["shape"];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d === -1 || d > 0))) {
      fail(`${key}.shape`, "an array of positive integers (-1 for the batch dimension)");
    }
    return { name: str(obj, "name", `${key}.name`), dtype: "float32", shape: shape as number[] };
  };
  const input = tensor("input");
  const output = tensor("output");

  const pre = asObject(root["preprocessing"]) ?? fail("preprocessing", "an object");
  const channels = pre["channels"] ?? 3;
  if (channels !== 3) fail("preprocessing.channels", "3");
  if ((pre["colorSpace"] ?? "srgb") !== "srgb") fail("preprocessing.colorSpace", '"srgb"');
  if ((pre["channelOrder"] ?? "RGB") !== "RGB") fail("preprocessing.channelOrder", '"RGB"');
  const layout = asObject(root["input"])?.["layout"] ?? "NCHW";
  if (layout !== "NCHW") fail("input.layout", '"NCHW"');

  const alpha = asObject(pre["alpha"]) ?? fail("preprocessing.alpha", "an object");
  const flattenOnto = rgb(alpha["flattenOnto"], "preprocessing.alpha.flattenOnto", (n) => n >= 0 && n <= 255, "0 to 255");
  const resizeObj = asObject(pre["resize"]) ?? fail("preprocessing.resize", "an object");
  const dimension = (key: string) =>
    num(resizeObj[key], `preprocessing.resize.${key}`, (n) => Number.isInteger(n) && n > 0 && n <= 4096, "an integer from 1 to 4096");
  const resize = {
    width: dimension("width"),
    height: dimension("height"),
    fit: oneOf(resizeObj["fit"] ?? "cover", "preprocessing.resize.fit", RESIZE_FITS),
    position: oneOf(resizeObj["position"] ?? "centre", "preprocessing.resize.position", RESIZE_POSITIONS),
    kernel: oneOf(resizeObj["kernel"] ?? "lanczos3", "preprocessing.resize.kernel", RESIZE_KERNELS),
  };
  const scale = num(pre["scale"] ?? 1 / 255, "preprocessing.scale", (n) => n > 0, "a positive number");
  const mean = rgb(pre["mean"], "preprocessing.mean", () => true, "a finite number");
  const std = rgb(pre["std"], "preprocessing.std", (n) => n > 0, "a positive number");

  const [, c, h, w] = input.shape;
  if (input.shape.length !== 4 || c !== 3 || h !== resize.height || w !== resize.width) {
    fail("input.shape", `[-1, 3, ${resize.height}, ${resize.width}] to match preprocessing.resize`);
  }
  if (output.shape.length !== 2 || output.shape[1] !== labelList.length) {
    fail("output.shape", `[-1, ${labelList.length}] to match the ${labelList.length} labels`);
  }

  const evaluation = asObject(root["evaluation"]);
  const top1 = evaluation?.["top1"];
  return {
    name,
    version,
    description: typeof root["description"] === "string" ? root["description"] : "",
    sha256,
    file,
    labels: labelList,
    input,
    output,
    preprocessing: { flattenOnto, resize, scale, mean, std },
    evaluatedTop1: typeof top1 === "number" && top1 >= 0 && top1 <= 1 ? top1 : undefined,
  };
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
