import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_SCHEMA, type VariableSpec } from "../../service/config/schema";

const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");

/** README's configuration table, as variable name -> the default it shows. */
function documentedDefaults(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const match of readme.matchAll(/^\| `(CLASSIFIER_[A-Z_]+)` \| (`([^`]*)`|\(empty\)) \|/gm)) {
    rows.set(match[1], match[3] ?? "");
  }
  return rows;
}

describe("README", () => {
  const specs = Object.values(CONFIG_SCHEMA) as VariableSpec<unknown>[];

  it("documents every configuration variable with the schema's default", () => {
    const documented = documentedDefaults();
    expect([...documented.keys()].sort()).toEqual(specs.map((s) => s.name).sort());
    for (const spec of specs) expect([spec.name, documented.get(spec.name)]).toEqual([spec.name, spec.render(spec.default)]);
  });

  it("shows the two commands of a fresh machine", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm test");
  });
});
