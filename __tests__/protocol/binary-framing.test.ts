/**
 * The transport-independent pieces of binary tensor data, without HTTP: the REST framing
 * (splitInferenceBody) for several inputs, JSON and binary mixed, which the one-input model cannot show end to
 * end; and parseInferenceRequest with raw input bytes, the path gRPC's raw_input_contents takes too.
 */
import { splitInferenceBody } from "../../service/protocols/v2/binary-body";
import { parseInferenceRequest } from "../../service/protocols/v2/request";
import type { ModelDescription } from "../../service/pipeline/classifier";
import { isPipelineError } from "../../service/pipeline/errors";
import { bytesTensor, encodeRequest, fp32Tensor } from "./binary-client";

/** A small model of the same kind: FP32 [N, 3, 2, 2] in, 10 classes out. */
const MODEL: ModelDescription = {
  name: "m",
  version: "1",
  description: "",
  sha256: "0".repeat(64),
  labels: Array.from({ length: 10 }, (_, i) => `c${i}`),
  input: { name: "input", shape: [-1, 3, 2, 2] },
  output: { name: "logits", shape: [-1, 10] },
};
const LIMITS = { maxImages: 4 };

function invalid(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(isPipelineError(error) && error.kind === "invalid_input").toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected an invalid_input error");
}

describe("splitInferenceBody: JSON first, then each binary input's bytes in input order", () => {
  it("cuts the bytes of binary inputs and skips JSON inputs, mixed in any order", () => {
    const a = Buffer.from([1, 2, 3]);
    const c = Buffer.from([4, 5, 6, 7, 8]);
    const { body, headerLength } = encodeRequest({
      inputs: [
        { name: "a", datatype: "UINT8", shape: [3], binary: a },
        { name: "b", datatype: "FP32", shape: [1], data: [0.5] },
        { name: "c", datatype: "UINT8", shape: [5], binary: c },
      ],
    });
    const split = splitInferenceBody(body, String(headerLength));
    expect(split.rawInputs.length).toBe(3);
    expect(split.rawInputs[0]).toEqual(a);
    expect(split.rawInputs[1]).toBeUndefined();
    expect(split.rawInputs[2]).toEqual(c);
    expect((split.json as { inputs: { name: string }[] }).inputs.map((i) => i.name)).toEqual(["a", "b", "c"]);
  });

  it("a zero binary_data_size takes no bytes", () => {
    const { body, headerLength } = encodeRequest({
      inputs: [
        { name: "a", datatype: "UINT8", shape: [0], binary: Buffer.alloc(0) },
        { name: "b", datatype: "UINT8", shape: [2], binary: Buffer.from([9, 9]) },
      ],
    });
    const split = splitInferenceBody(body, String(headerLength));
    expect(split.rawInputs.map((raw) => raw?.length)).toEqual([0, 2]);
  });

  it("sizes that overlap the next input's bytes or leave some over are refused", () => {
    const { body, headerLength } = encodeRequest({
      inputs: [
        { name: "a", datatype: "UINT8", shape: [3], binary: Buffer.from([1, 2, 3]) },
        { name: "b", datatype: "UINT8", shape: [2], binary: Buffer.from([4, 5]) },
      ],
    });
    // Drop one byte: the second input's 2 bytes now run past the body.
    expect(invalid(() => splitInferenceBody(body.subarray(0, body.length - 1), String(headerLength)))).toMatch(
      /inputs\[1\]\.parameters\.binary_data_size is 2, which runs past the body: 1 bytes/,
    );
    expect(invalid(() => splitInferenceBody(Buffer.concat([body, Buffer.from([0])]), String(headerLength)))).toMatch(/1 bytes after the JSON are claimed by no input/);
  });

  it("without the header the body is JSON only", () => {
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: "b", datatype: "FP32", shape: [1], data: [1] }] }));
    expect(splitInferenceBody(body, undefined)).toEqual({ json: JSON.parse(body.toString()), rawInputs: [] });
  });
});

describe("parseInferenceRequest with raw input bytes (REST binary data, gRPC raw_input_contents)", () => {
  const values = Array.from({ length: 2 * 12 }, (_, i) => i / 8 - 1);
  const tensorRequest = (parameters?: Record<string, unknown>) => ({ inputs: [{ name: "input", datatype: "FP32", shape: [2, 3, 2, 2], ...(parameters ? { parameters } : {}) }] });

  it("reads FP32 from little-endian bytes, exactly as the same tensor in JSON", () => {
    const raw = parseInferenceRequest(tensorRequest(), MODEL, LIMITS, [fp32Tensor(values)]);
    const json = parseInferenceRequest({ inputs: [{ ...tensorRequest().inputs[0], data: values }] }, MODEL, LIMITS);
    expect(raw.input).toEqual(json.input);
    expect(raw.input).toMatchObject({ kind: "tensor", count: 2 });
  });

  it("reads BYTES elements from 4-byte length prefixes, without base64", () => {
    const images = [Buffer.from("first image"), Buffer.from("second")];
    const parsed = parseInferenceRequest({ inputs: [{ name: "image", datatype: "BYTES", shape: [2] }] }, MODEL, LIMITS, [bytesTensor(images)]);
    expect(parsed.input).toEqual({ kind: "images", images });
  });

  it("checks binary_data_size against the bytes when the transport gives both", () => {
    expect(parseInferenceRequest(tensorRequest({ binary_data_size: 96 }), MODEL, LIMITS, [fp32Tensor(values)]).input.kind).toBe("tensor");
    expect(invalid(() => parseInferenceRequest(tensorRequest({ binary_data_size: 95 }), MODEL, LIMITS, [fp32Tensor(values)]))).toMatch(
      /binary_data_size is 95, but 96 bytes of binary data came for it/,
    );
    expect(invalid(() => parseInferenceRequest(tensorRequest({ binary_data_size: 96 }), MODEL, LIMITS))).toMatch(/carries no binary data for this input/);
  });

  it("refuses raw bytes for more inputs than the request lists, and raw bytes beside JSON data", () => {
    expect(invalid(() => parseInferenceRequest(tensorRequest(), MODEL, LIMITS, [fp32Tensor(values), Buffer.alloc(4)]))).toMatch(/binary data for 2 inputs/);
    const both = { inputs: [{ ...tensorRequest().inputs[0], data: values }] };
    expect(invalid(() => parseInferenceRequest(both, MODEL, LIMITS, [fp32Tensor(values)]))).toMatch(/both JSON "data" and binary data/);
  });

  it("refuses non-boolean binary_data and binary_data_output wherever they appear", () => {
    const base = { ...tensorRequest(), outputs: [{ name: "logits" }] };
    expect(invalid(() => parseInferenceRequest({ ...base, parameters: { binary_data_output: 1 } }, MODEL, LIMITS, [fp32Tensor(values)]))).toMatch(
      /"parameters"\.binary_data_output must be true or false/,
    );
    expect(invalid(() => parseInferenceRequest({ ...base, outputs: [{ name: "logits", parameters: { binary_data: "true" } }] }, MODEL, LIMITS, [fp32Tensor(values)]))).toMatch(
      /outputs\[0\]\.parameters\.binary_data must be true or false/,
    );
  });
});
