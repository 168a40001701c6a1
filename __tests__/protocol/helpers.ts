/**
 * What the Open Inference Protocol REST text (KServe "Predict Protocol - Version 2", required_api.md / the
 * open-inference-protocol inference_rest.md) fixes, written down once for the conformance tests.
 */
import type request from "supertest";

/** "Tensor Data Types": every datatype name the protocol defines. */
export const PROTOCOL_DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"];

/** "Platforms": the name for "an ONNX model encoded for ONNX Runtime". */
export const ONNX_PLATFORM = "onnx_onnxv1";

/**
 * "Inference Response JSON Error Object" (and the metadata error objects): an HTTP error status and a body that
 * is exactly {"error": <message string>}.
 */
export function expectErrorObject(res: request.Response, status: number): void {
  expect([res.status, res.text.slice(0, 200)]).toEqual([status, expect.any(String)]);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  expect(Object.keys(res.body)).toEqual(["error"]);
  expect(typeof res.body.error).toBe("string");
  expect(res.body.error.length).toBeGreaterThan(10);
  // A message for people, never a stack trace or a path on the server.
  expect(res.body.error).not.toMatch(/\bat .+\.(js|ts):\d+|\/work\/|node_modules/);
}

/** "$metadata_tensor": {"name": $string, "datatype": $string, "shape": [$number, ...]}, -1 for a variable dimension. */
export function expectMetadataTensor(tensor: unknown): void {
  expect(tensor).toEqual({ name: expect.any(String), datatype: expect.any(String), shape: expect.any(Array) });
  const { datatype, shape } = tensor as { datatype: string; shape: unknown[] };
  expect(PROTOCOL_DATATYPES).toContain(datatype);
  for (const dim of shape) expect(Number.isInteger(dim) && (dim as number) >= -1).toBe(true);
}

/** "$response_output": name, shape, datatype, data (parameters optional); data holds every element of the shape. */
export function expectResponseOutput(output: unknown): void {
  const o = output as { name: unknown; shape: number[]; datatype: string; data: unknown[] };
  expect(Object.keys(o).filter((k) => k !== "parameters").sort()).toEqual(["data", "datatype", "name", "shape"]);
  expect(typeof o.name).toBe("string");
  expect(PROTOCOL_DATATYPES).toContain(o.datatype);
  for (const dim of o.shape) expect(Number.isInteger(dim) && dim >= 0).toBe(true);
  expect(flatten(o.data)).toHaveLength(o.shape.reduce((a, b) => a * b, 1));
}

/** "Tensor Data": elements may come nested or flattened; either way, row-major. */
export function flatten(data: unknown): unknown[] {
  return Array.isArray(data) ? data.flatMap((d) => flatten(d)) : [data];
}

/** Row-major nesting of a flat array as `shape` ("natural multi-dimensional representation"). */
export function nest(flat: readonly number[], shape: readonly number[]): unknown[] {
  if (shape.length === 1) return [...flat];
  const step = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}
