import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readFloat32File } from "../../scripts/float32-file";

describe("readFloat32File", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "float32-file-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("decodes little-endian FP32 values as the recipe writes them (numpy '<f4')", () => {
    const values = [0, -1.5, 3.25, 1e-6, -65504];
    const bytes = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => bytes.writeFloatLE(v, 4 * i));
    const file = path.join(dir, "values.f32");
    writeFileSync(file, bytes);

    expect(Array.from(readFloat32File(file))).toEqual(values.map((v) => Math.fround(v)));
  });

  it("refuses a file whose length is not a whole number of values, naming it", () => {
    const file = path.join(dir, "torn.f32");
    writeFileSync(file, Buffer.alloc(10));
    expect(() => readFloat32File(file)).toThrow(`${file}: 10 bytes is not a whole number of float32 values`);
  });
});
