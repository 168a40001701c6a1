/**
 * .dockerignore semantics (moby/patternmatcher, which BuildKit uses): patterns are Go filepath.Match globs plus
 * `**`, matched against slash-separated paths relative to the context root; a pattern that matches a parent
 * directory matches everything inside it; `!` re-includes; the last matching pattern decides.
 */

export interface IgnoreRule {
  readonly pattern: string;
  readonly negated: boolean;
  readonly regex: RegExp;
}

function cleanPattern(raw: string): string {
  const parts: string[] = [];
  for (const part of raw.replace(/\\/g, "/").split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

function globToRegex(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      // `**/` matches zero or more directories; a trailing `**` matches everything below.
      if (pattern[i + 2] === "/") {
        source += "(?:.*/)?";
        i += 2;
      } else {
        source += ".*";
        i += 1;
      }
    } else if (c === "*") {
      source += "[^/]*";
    } else if (c === "?") {
      source += "[^/]";
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end === -1) throw new Error(`unterminated character class in .dockerignore pattern "${pattern}"`);
      source += `[${pattern.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`;
      i = end;
    } else {
      source += c.replace(/[.+^${}()|\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const negated = line.startsWith("!");
    const pattern = cleanPattern(negated ? line.slice(1).trim() : line);
    if (pattern === "") continue;
    rules.push({ pattern, negated, regex: globToRegex(pattern) });
  }
  return rules;
}

/** True when `relativePath` (slash-separated, from the context root) is left out of the build context. */
export function isExcluded(rules: readonly IgnoreRule[], relativePath: string): boolean {
  const path = cleanPattern(relativePath);
  const segments = path.split("/");
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join("/"));
  let excluded = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.regex.test(candidate))) excluded = !rule.negated;
  }
  return excluded;
}
