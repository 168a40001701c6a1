/**
 * No import cycle in service/, infra/, charts/, scripts/ or bench/, type-only imports included (import-x/no-cycle
 * skips those): a module must be readable, and loadable, without the one that composes it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findCycles, importGraph } from "./import-graph";

const ROOT = path.resolve(__dirname, "../..");

test.each(["service", "infra", "charts", "scripts", "bench"])("%s/ has no import cycle, type-only imports included", (folder) => {
  const graph = importGraph([path.join(ROOT, folder)]);
  expect(graph.size).toBeGreaterThan(3);
  const cycles = findCycles(graph).map((cycle) => cycle.map((file) => path.relative(ROOT, file)).join(" -> "));
  expect(cycles).toEqual([]);
});

describe("the cycle finder", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "import-cycles-"));
    fs.writeFileSync(path.join(dir, "a.ts"), 'import type { B } from "./b";\nexport interface A { b?: B }\n');
    fs.writeFileSync(path.join(dir, "b.ts"), 'export type { A as B } from "./a";\n');
    fs.writeFileSync(path.join(dir, "c.ts"), 'import { x } from "./d";\nimport express from "express";\nexport const c = [x, express];\n');
    fs.writeFileSync(path.join(dir, "d.ts"), "export const x = 1;\n");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("reports a cycle made only of type imports and re-exports, and nothing for acyclic files", () => {
    const graph = importGraph([dir]);
    expect(graph.get(path.join(dir, "c.ts"))).toEqual([path.join(dir, "d.ts")]);
    const cycles = findCycles(graph).map((cycle) => cycle.map((file) => path.basename(file)));
    expect(cycles).toEqual([["a.ts", "b.ts", "a.ts"]]);
  });
});
