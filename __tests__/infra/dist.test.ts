/**
 * The committed dist/ is exactly what `npm run synth` writes today: same files, same bytes. Synthesizes into a
 * temporary directory with the same entry point the CLI runs (charts/app.ts), without IMAGE_TAG.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ADAPTER_VALUES_PATH, dashboardPath, resolveImageTag, rolloutChartName, synthesize } from "../../charts/app";
import { readReleaseTable } from "../../charts/release-table";
import { environmentNames } from "../../charts/environments";

const DIST = path.resolve(__dirname, "../../dist");

/** Every file under a directory, as relative POSIX paths, sorted. */
function filesUnder(root: string): string[] {
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? walk(full) : [path.relative(root, full).split(path.sep).join("/")];
    });
  return walk(root).sort();
}

describe("dist/", () => {
  let fresh: string;

  beforeAll(() => {
    fresh = fs.mkdtempSync(path.join(os.tmpdir(), "pyramidnet-synth-"));
    synthesize({ outdir: fresh, imageTag: resolveImageTag({}) });
  });

  afterAll(() => {
    fs.rmSync(fresh, { recursive: true, force: true });
  });

  test("holds one file per environment, one per release entry's Rollout form, the prometheus-adapter values and one Grafana dashboard per environment", () => {
    const rolloutFiles = Object.keys(readReleaseTable()).map((name) => `${rolloutChartName(name)}.k8s.yaml`);
    expect(filesUnder(DIST)).toEqual(
      [
        ...environmentNames().map((name) => `${name}.k8s.yaml`),
        ...rolloutFiles,
        ADAPTER_VALUES_PATH,
        ...environmentNames().map(dashboardPath),
      ].sort(),
    );
  });

  test("has exactly the files a fresh synth writes", () => {
    expect(filesUnder(DIST)).toEqual(filesUnder(fresh));
  });

  test.each(filesUnder(DIST))("%s is byte-identical to a fresh synth (else run `npm run synth`)", (file) => {
    const committed = fs.readFileSync(path.join(DIST, file), "utf8");
    const synthesized = fs.readFileSync(path.join(fresh, file), "utf8");
    expect(committed).toBe(synthesized);
  });
});
