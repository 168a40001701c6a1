/**
 * Walks `--flag` and `--option value` arguments for the repository's scripts. Each step gives the argument and a
 * `value()` that consumes the next one, failing with a clear message when the option is last on the line.
 */
export function* cliOptions(argv: readonly string[]): Generator<{ arg: string; value: () => string }> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    yield {
      arg,
      value: () => {
        const v = argv[++i];
        if (v === undefined) throw new Error(`${arg} needs a value`);
        return v;
      },
    };
  }
}
