/**
 * A small Dockerfile reader for tests: enough of the reference syntax (line continuations, comments, flags,
 * exec form, ARG substitution in FROM, key=value lists) to check invariants and to replay COPY instructions.
 * Heredocs and custom escape directives are refused rather than misread.
 */

export interface Instruction {
  /** Upper-case keyword, e.g. "COPY". */
  readonly keyword: string;
  /** Leading --name[=value] options, e.g. { from: "build" }; a bare flag maps to "". */
  readonly flags: Readonly<Record<string, string>>;
  /** Everything after the flags, continuation lines joined with a space. */
  readonly args: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
}

export interface Stage {
  readonly index: number;
  /** The name after AS, if any. */
  readonly name?: string;
  /** The base image with global ARG defaults substituted. */
  readonly base: string;
  /** Instructions after FROM, in order. */
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: Readonly<Record<string, string | undefined>>;
  readonly stages: readonly Stage[];
}

function logicalLines(text: string): { text: string; line: number }[] {
  const result: { text: string; line: number }[] = [];
  let current: string | undefined;
  let start = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines are dropped, also in the middle of a continued instruction (as Docker does).
    if (trimmed.startsWith("#")) return;
    if (current === undefined) {
      if (trimmed === "") return;
      current = "";
      start = i + 1;
    }
    const continued = /\\\s*$/.test(raw);
    current += (current === "" ? "" : " ") + (continued ? raw.replace(/\\\s*$/, "") : raw).trim();
    if (!continued) {
      result.push({ text: current, line: start });
      current = undefined;
    }
  });
  if (current !== undefined) result.push({ text: current, line: start });
  return result;
}

function parseInstruction(text: string, line: number): Instruction {
  const match = /^(\S+)\s*(.*)$/.exec(text);
  if (!match) throw new Error(`line ${line}: cannot parse "${text}"`);
  const keyword = match[1].toUpperCase();
  let rest = match[2];
  if (/<<-?["']?[A-Za-z_]/.test(rest) && (keyword === "RUN" || keyword === "COPY")) {
    throw new Error(`line ${line}: heredocs are not supported by this reader`);
  }
  const flags: Record<string, string> = {};
  for (;;) {
    const flag = /^--([a-z][a-z0-9-]*)(?:=(\S*))?\s*/.exec(rest);
    if (!flag) break;
    flags[flag[1]] = flag[2] ?? "";
    rest = rest.slice(flag[0].length);
  }
  return { keyword, flags, args: rest.trim(), line };
}

/** Replaces $NAME, ${NAME} and ${NAME:-default} with values from `vars`; unknown names become "". */
export function substitute(value: string, vars: Readonly<Record<string, string | undefined>>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced, fallback, bare) => {
    const name = (braced ?? bare) as string;
    const found = vars[name];
    return found !== undefined && found !== "" ? found : (fallback ?? "");
  });
}

/**
 * Splits shell-like words: whitespace separates, single and double quotes group, backslash escapes.
 * Quotes are removed, as Docker does for LABEL, ENV and ARG.
 */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${text}`);
  if (inWord) words.push(word);
  return words;
}

/** key=value pairs of a LABEL, ENV or ARG instruction (ENV's legacy "KEY value" form included). */
export function keyValues(instruction: Instruction): Record<string, string> {
  const words = shellWords(instruction.args);
  if (instruction.keyword === "ENV" && words.length >= 2 && !words[0].includes("=")) {
    return { [words[0]]: words.slice(1).join(" ") };
  }
  const pairs: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf("=");
    if (eq <= 0) {
      if (instruction.keyword === "ARG") pairs[word] = "";
      else throw new Error(`line ${instruction.line}: expected key=value, got "${word}"`);
    } else {
      pairs[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return pairs;
}

/** The JSON array of an exec-form instruction (CMD ["node", "x.js"]), or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trimStart().startsWith("[")) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((item): item is string => typeof item === "string")) {
    throw new Error(`exec form must be a JSON array of strings: ${args}`);
  }
  return parsed;
}

export interface CopyInstruction {
  /** The stage named by --from, or undefined when copying from the build context. */
  readonly from?: string;
  readonly sources: readonly string[];
  readonly destination: string;
  readonly line: number;
}

/** Sources and destination of a COPY (shell or JSON form). */
export function copyOf(instruction: Instruction): CopyInstruction {
  if (instruction.keyword !== "COPY") throw new Error(`line ${instruction.line}: not a COPY`);
  const words = execForm(instruction.args) ?? shellWords(instruction.args);
  if (words.length < 2) throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
  return {
    from: instruction.flags.from,
    sources: words.slice(0, -1),
    destination: words[words.length - 1],
    line: instruction.line,
  };
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = logicalLines(text);
  const globalArgs: Record<string, string | undefined> = {};
  const stages: { index: number; name?: string; base: string; instructions: Instruction[] }[] = [];
  for (const { text: line, line: number } of lines) {
    const instruction = parseInstruction(line, number);
    if (instruction.keyword === "FROM") {
      const words = shellWords(instruction.args);
      const asIndex = words.findIndex((w) => w.toUpperCase() === "AS");
      const image = asIndex === -1 ? words[0] : words.slice(0, asIndex).join(" ");
      stages.push({
        index: stages.length,
        name: asIndex === -1 ? undefined : words[asIndex + 1],
        base: substitute(image, globalArgs),
        instructions: [],
      });
    } else if (stages.length === 0) {
      if (instruction.keyword !== "ARG") {
        throw new Error(`line ${number}: only ARG may come before the first FROM, got ${instruction.keyword}`);
      }
      for (const [key, value] of Object.entries(keyValues(instruction))) globalArgs[key] = value;
    } else {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  if (stages.length === 0) throw new Error("no FROM instruction");
  return { globalArgs, stages };
}

/** A stage by name; throws with the names that exist. */
export function stageNamed(dockerfile: Dockerfile, name: string): Stage {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (!stage) {
    throw new Error(`no stage named "${name}" (stages: ${dockerfile.stages.map((s) => s.name ?? s.index).join(", ")})`);
  }
  return stage;
}

/** The final stage: what `docker build` without --target produces. */
export function finalStage(dockerfile: Dockerfile): Stage {
  return dockerfile.stages[dockerfile.stages.length - 1];
}

export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** The last instruction of a kind (Docker keeps only the last CMD, USER, WORKDIR... in effect). */
export function lastOf(stage: Stage, keyword: string): Instruction | undefined {
  const all = instructionsOf(stage, keyword);
  return all[all.length - 1];
}

/** ENV values in effect at the end of a stage, in order of declaration. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of instructionsOf(stage, "ENV")) {
    for (const [key, value] of Object.entries(keyValues(instruction))) env[key] = substitute(value, env);
  }
  return env;
}

/** The WORKDIR in effect at the end of a stage (relative WORKDIRs resolve against the previous one). */
export function workdirOf(stage: Stage): string {
  let dir = "/";
  for (const instruction of instructionsOf(stage, "WORKDIR")) {
    const next = instruction.args.trim();
    dir = next.startsWith("/") ? next : `${dir.replace(/\/$/, "")}/${next}`;
  }
  return dir;
}
