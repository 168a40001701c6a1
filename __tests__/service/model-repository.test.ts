/**
 * The model repository and its configuration: the four CLASSIFIER_MODEL_* variables are validated at start
 * with messages naming them, the version policy picks versions as Triton's does, and the repository refuses a
 * configuration it cannot honour (no such model, a named version missing, the default not loaded, a card that
 * describes another version) before anything is loaded.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sessionOptions } from "../../service/compose";
import { loadConfig, renderEnvironment } from "../../service/config/schema";
import { compareVersions, parseVersionPolicy, renderVersionPolicy, selectVersions } from "../../service/config/version-policy";
import { itemSize } from "../../service/model/card";
import { ModelRepositoryError, listVersions, loadVersions, planRepository } from "../../service/model/repository";
import { MODEL_REPOSITORY, configProblems, testConfig, writeModelVersion } from "./helpers";

describe("configuration of the model repository", () => {
  it("defaults to the committed repository, its pyramidnet model, version 1.1.0 and the newest version only", () => {
    const config = loadConfig({});
    expect(config.modelRepository).toBe("models");
    expect(config.modelName).toBe("pyramidnet");
    expect(config.modelVersion).toBe("1.1.0");
    expect(config.modelVersionPolicy).toEqual({ kind: "latest", count: 1 });
    expect(renderEnvironment()).toMatchObject({
      CLASSIFIER_MODEL_REPOSITORY: "models",
      CLASSIFIER_MODEL_NAME: "pyramidnet",
      CLASSIFIER_MODEL_VERSION: "1.1.0",
      CLASSIFIER_MODEL_VERSION_POLICY: "latest:1",
    });
  });

  it.each([
    ["latest:2", { kind: "latest", count: 2 }],
    ["all", { kind: "all" }],
    ["ALL", { kind: "all" }],
    ["specific:1.1.0,1.0.0", { kind: "specific", versions: ["1.0.0", "1.1.0"] }],
    ["specific: 1.1.0 , 1.0.0", { kind: "specific", versions: ["1.0.0", "1.1.0"] }],
  ])("reads CLASSIFIER_MODEL_VERSION_POLICY=%s", (raw, policy) => {
    expect(loadConfig({ CLASSIFIER_MODEL_VERSION_POLICY: raw }).modelVersionPolicy).toEqual(policy);
  });

  it.each(["newest", "latest", "latest:0", "latest:101", "specific:", "specific:1.0", "specific:1.0.0,1.0.0", "specific:v1.0.0", "1.0.0"])(
    "refuses CLASSIFIER_MODEL_VERSION_POLICY=%s, naming the syntax",
    (raw) => {
      expect(configProblems({ CLASSIFIER_MODEL_VERSION_POLICY: raw })).toContain(
        `CLASSIFIER_MODEL_VERSION_POLICY=${JSON.stringify(raw)}: expected latest:N (N from 1 to 100), all, or specific:V1,V2,...`,
      );
    },
  );

  it.each(["1.1", "v1.1.0", "01.1.0", "1.1.0-rc1", "latest"])("refuses CLASSIFIER_MODEL_VERSION=%s", (raw) => {
    expect(configProblems({ CLASSIFIER_MODEL_VERSION: raw })).toContain(
      `CLASSIFIER_MODEL_VERSION=${JSON.stringify(raw)}: expected a version MAJOR.MINOR.PATCH, such as 1.1.0`,
    );
  });

  it.each(["../etc", "a/b", ".hidden", "-x"])("refuses CLASSIFIER_MODEL_NAME=%s, which is no directory name", (raw) => {
    expect(configProblems({ CLASSIFIER_MODEL_NAME: raw })).toContain(`CLASSIFIER_MODEL_NAME=${JSON.stringify(raw)}: expected a model name`);
  });

  it("refuses a default version that a specific policy does not load", () => {
    expect(configProblems({ CLASSIFIER_MODEL_VERSION: "1.1.0", CLASSIFIER_MODEL_VERSION_POLICY: "specific:1.0.0" })).toContain(
      'CLASSIFIER_MODEL_VERSION="1.1.0": expected one of the versions CLASSIFIER_MODEL_VERSION_POLICY loads (1.0.0)',
    );
    expect(loadConfig({ CLASSIFIER_MODEL_VERSION: "1.0.0", CLASSIFIER_MODEL_VERSION_POLICY: "specific:1.0.0" }).modelVersion).toBe("1.0.0");
  });

  it("renders every policy back to what it parses from", () => {
    for (const raw of ["latest:3", "all", "specific:1.0.0,1.10.0,1.9.0"]) {
      const policy = parseVersionPolicy(raw);
      expect(policy).toBeDefined();
      expect(parseVersionPolicy(renderVersionPolicy(policy!))).toEqual(policy);
    }
    expect(renderVersionPolicy(parseVersionPolicy("specific:1.10.0,1.9.0")!)).toBe("specific:1.9.0,1.10.0");
  });
});

describe("version policy", () => {
  const available = ["1.10.0", "1.0.0", "2.0.0", "1.9.0"];

  it("orders versions numerically, not as text", () => {
    expect([...available].sort(compareVersions)).toEqual(["1.0.0", "1.9.0", "1.10.0", "2.0.0"]);
  });

  it.each([
    ["latest:1", ["2.0.0"]],
    ["latest:2", ["1.10.0", "2.0.0"]],
    ["latest:9", ["1.0.0", "1.9.0", "1.10.0", "2.0.0"]],
    ["all", ["1.0.0", "1.9.0", "1.10.0", "2.0.0"]],
    ["specific:1.9.0,1.0.0", ["1.0.0", "1.9.0"]],
  ])("%s selects %j", (raw, selected) => {
    expect(selectVersions(parseVersionPolicy(raw)!, available)).toEqual(selected);
  });
});

describe("planRepository", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), "model-repository-"));
    for (const version of ["1.0.0", "1.1.0", "1.2.0"]) writeModelVersion(root, { version, onnx: Buffer.from(version) });
    // Not versions: ignored, as Triton ignores them.
    mkdirSync(path.join(root, "pyramidnet", "staging"));
    writeFileSync(path.join(root, "pyramidnet", "README.md"), "notes");
    mkdirSync(path.join(root, "empty"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const plan = (env: Record<string, string>) => planRepository(testConfig({ CLASSIFIER_MODEL_REPOSITORY: root, ...env }));
  const refusal = async (env: Record<string, string>) => {
    const error = await plan(env).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelRepositoryError);
    return (error as Error).message;
  };

  it("lists the version folders only, oldest first", async () => {
    expect(await listVersions(root, "pyramidnet")).toEqual(["1.0.0", "1.1.0", "1.2.0"]);
  });

  it("selects what the policy says, with each version's card path", async () => {
    const all = await plan({ CLASSIFIER_MODEL_VERSION_POLICY: "all", CLASSIFIER_MODEL_VERSION: "1.0.0" });
    expect(all.available).toEqual(["1.0.0", "1.1.0", "1.2.0"]);
    expect(all.selected.map((s) => s.version)).toEqual(["1.0.0", "1.1.0", "1.2.0"]);
    expect(all.selected[1].cardPath).toBe(path.join(root, "pyramidnet", "1.1.0", "pyramidnet.json"));
    expect(all.defaultVersion).toBe("1.0.0");
    const newest = await plan({ CLASSIFIER_MODEL_VERSION: "1.2.0" });
    expect(newest.selected.map((s) => s.version)).toEqual(["1.2.0"]);
    const two = await plan({ CLASSIFIER_MODEL_VERSION_POLICY: "latest:2" });
    expect([two.selected.map((s) => s.version), two.policy]).toEqual([["1.1.0", "1.2.0"], "latest:2"]);
  });

  it("refuses a model that is not in the repository", async () => {
    const message = await refusal({ CLASSIFIER_MODEL_NAME: "resnet" });
    expect(message).toContain(`cannot read ${path.join(root, "resnet")} (ENOENT)`);
    expect(message).toContain("CLASSIFIER_MODEL_REPOSITORY");
  });

  it("refuses a model folder without versions", async () => {
    expect(await refusal({ CLASSIFIER_MODEL_NAME: "empty" })).toContain(`${path.join(root, "empty")} holds no version directories`);
  });

  it("refuses a specific policy naming a version the repository does not hold", async () => {
    expect(await refusal({ CLASSIFIER_MODEL_VERSION_POLICY: "specific:1.1.0,3.0.0" })).toBe(
      `CLASSIFIER_MODEL_VERSION_POLICY=specific:1.1.0,3.0.0 names 3.0.0, but ${path.join(root, "pyramidnet")} holds versions 1.0.0, 1.1.0, 1.2.0.`,
    );
  });

  it("refuses a default version that the policy does not load, saying whether the repository holds it", async () => {
    expect(await refusal({ CLASSIFIER_MODEL_VERSION: "1.1.0" })).toBe(
      "CLASSIFIER_MODEL_VERSION=1.1.0 is not loaded: it is in the repository, but CLASSIFIER_MODEL_VERSION_POLICY=latest:1 selects 1.2.0.",
    );
    expect(await refusal({ CLASSIFIER_MODEL_VERSION: "4.0.0", CLASSIFIER_MODEL_VERSION_POLICY: "all" })).toContain(
      "CLASSIFIER_MODEL_VERSION=4.0.0 is not loaded: the repository holds versions 1.0.0, 1.1.0, 1.2.0, and",
    );
  });
});

describe("loadVersions", () => {
  const options = { ...sessionOptions(testConfig()), warmUpBatchSizes: [1] };

  it("loads every selected committed version, each verified against its own card", async () => {
    const plan = await planRepository(testConfig({ CLASSIFIER_MODEL_REPOSITORY: MODEL_REPOSITORY, CLASSIFIER_MODEL_VERSION_POLICY: "all" }));
    const loaded = await loadVersions(plan, options);
    try {
      expect(loaded.map(({ card }) => [card.version, card.sha256.slice(0, 8)])).toEqual([
        ["1.0.0", "2fe162ff"],
        ["1.1.0", "4d6a53ab"],
      ]);
      const logits = await Promise.all(loaded.map(({ card, model }) => model.run(new Float32Array(itemSize(card.input)), 1)));
      expect(logits.map((l) => l.length)).toEqual([10, 10]);
      expect(Array.from(logits[0])).not.toEqual(Array.from(logits[1]));
    } finally {
      await Promise.all(loaded.map(({ model }) => model.close()));
    }
  });

  it("refuses a card that describes another version than its folder", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "model-repository-mislabelled-"));
    try {
      writeModelVersion(root, { version: "1.2.0", card: { version: "1.1.0" } });
      const plan = await planRepository(testConfig({ CLASSIFIER_MODEL_REPOSITORY: root, CLASSIFIER_MODEL_VERSION: "1.2.0" }));
      await expect(loadVersions(plan, options)).rejects.toThrow(
        `Model card ${path.join(root, "pyramidnet", "1.2.0", "pyramidnet.json")} describes pyramidnet 1.1.0, but its directory is pyramidnet/1.2.0.`,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("refuses a version whose ONNX file does not match its card's sha256", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "model-repository-tampered-"));
    try {
      writeModelVersion(root, { version: "1.0.0" });
      writeModelVersion(root, { version: "1.1.0", card: { sha256: "0".repeat(64) } });
      const plan = await planRepository(testConfig({ CLASSIFIER_MODEL_REPOSITORY: root, CLASSIFIER_MODEL_VERSION_POLICY: "all" }));
      await expect(loadVersions(plan, options)).rejects.toThrow(/sha256 mismatch: .*1\.1\.0\/pyramidnet\.onnx has sha256 [0-9a-f]{64}, but the model card says 0{64}/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
