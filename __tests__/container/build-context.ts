/**
 * What a Dockerfile COPY takes from the build context: its source pattern expanded against the repository, after
 * .dockerignore, as the builder would see it (so a file the context leaves out is found missing here too).
 */
import fs from "node:fs";
import path from "node:path";
import { isExcluded, type IgnoreRule } from "./dockerignore";

function segmentRegex(segment: string): RegExp {
  const source = segment.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${source}$`);
}

/** Context paths (relative, slash-separated) a COPY source names, after .dockerignore, sorted. */
export function expandContextSource(contextRoot: string, source: string, rules: readonly IgnoreRule[]): string[] {
  const segments = source.split("/").filter((s) => s !== "" && s !== ".");
  let matches = [""];
  for (const segment of segments) {
    const next: string[] = [];
    for (const base of matches) {
      const dir = path.join(contextRoot, base);
      if (!/[*?[]/.test(segment)) {
        if (fs.existsSync(path.join(dir, segment))) next.push(base === "" ? segment : `${base}/${segment}`);
        continue;
      }
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) continue;
      const regex = segmentRegex(segment);
      for (const entry of fs.readdirSync(dir).sort()) {
        if (regex.test(entry)) next.push(base === "" ? entry : `${base}/${entry}`);
      }
    }
    matches = next;
  }
  return matches.filter((relative) => relative !== "" && !isExcluded(rules, relative));
}
