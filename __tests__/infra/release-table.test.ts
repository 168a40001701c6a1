/** charts/releases.json: its type guard, promotion and rollback, and the committed entry. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  isReleaseTable,
  parseReleaseTable,
  promoteCanary,
  readReleaseTable,
  rollBackCanary,
  writeReleaseTable,
  type ReleaseTable,
} from "../../charts/release-table";
import { ENVIRONMENTS } from "../../charts/environments";
import { CONFIG_SCHEMA } from "../../infra/service-contract";

const TABLE: ReleaseTable = {
  production: { stable: { modelVersion: "1.0.0" }, canary: { modelVersion: "1.1.0", weight: 10 } },
  development: { stable: { modelVersion: "1.0.0", imageTag: "dev-1" }, canary: { imageTag: "dev-2", weight: 50 } },
};

test("the committed entry: production runs 1.0.0 stable with 1.1.0 as a 10% canary, for environments of the table", () => {
  const committed = readReleaseTable();
  expect(committed.production).toEqual({ stable: { modelVersion: "1.0.0" }, canary: { modelVersion: "1.1.0", weight: 10 } });
  for (const environment of Object.keys(committed)) expect(Object.keys(ENVIRONMENTS)).toContain(environment);
});

test("the type guard accepts a valid table and refuses wrong shapes", () => {
  expect(isReleaseTable(TABLE)).toBe(true);
  expect(isReleaseTable({})).toBe(true);
  expect(isReleaseTable({ production: { stable: { modelVersion: 1 } } })).toBe(false);
  expect(isReleaseTable({ production: { canary: { weight: 1 } } })).toBe(false);
  expect(isReleaseTable(null)).toBe(false);
});

test("promotion: the stable track takes the canary's version and image; the canary is gone", () => {
  const promoted = promoteCanary(TABLE, "production");
  expect(promoted.production).toEqual({ stable: { modelVersion: "1.1.0" } });
  expect(promoted.development).toBe(TABLE.development);
  expect(promoteCanary(TABLE, "development").development).toEqual({ stable: { modelVersion: "1.0.0", imageTag: "dev-2" } });
});

test("rollback: the stable track unchanged; the canary is gone", () => {
  expect(rollBackCanary(TABLE, "production").production).toEqual({ stable: { modelVersion: "1.0.0" } });
  expect(rollBackCanary(TABLE, "development").development).toEqual({ stable: { modelVersion: "1.0.0", imageTag: "dev-1" } });
});

test("write then read gives the same table, as two-space JSON with a final newline", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "releases-"));
  try {
    const file = path.join(dir, "releases.json");
    writeReleaseTable(TABLE, file);
    expect(readReleaseTable(file)).toEqual(TABLE);
    expect(fs.readFileSync(file, "utf8")).toBe(`${JSON.stringify(TABLE, null, 2)}\n`);
    expect(() => writeReleaseTable({ production: { stable: {} } } as unknown as ReleaseTable, file)).toThrow(
      "refusing to write an invalid release file: production.stable.modelVersion is missing",
    );
    expect(parseReleaseTable(fs.readFileSync(file, "utf8"), file)).toEqual(TABLE);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the committed file is formatted as writeReleaseTable writes it (a promotion's diff is the change alone)", () => {
  const file = path.join(__dirname, "../../charts/releases.json");
  expect(fs.readFileSync(file, "utf8")).toBe(`${JSON.stringify(readReleaseTable(), null, 2)}\n`);
});

test("every model version a release entry names is in the model repository the image carries", () => {
  const repository = path.join(__dirname, "../../models", CONFIG_SCHEMA.modelName.default);
  for (const [environment, entry] of Object.entries(readReleaseTable())) {
    for (const version of [entry.stable.modelVersion, entry.canary?.modelVersion].filter((v) => v !== undefined)) {
      const card = path.join(repository, version, `${CONFIG_SCHEMA.modelName.default}.json`);
      expect([environment, version, fs.existsSync(card)]).toEqual([environment, version, true]);
      expect((JSON.parse(fs.readFileSync(card, "utf8")) as { version: string }).version).toBe(version);
    }
  }
});
