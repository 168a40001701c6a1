/**
 * The suite's report: one row per case (case | expected | got), printed when a test file ends so that it shows
 * in `npm test` and `npm run test:reliability` output. A row is recorded before its assertion runs, so a failing
 * case shows what it got.
 */
export interface CaseRow {
  readonly name: string;
  readonly expected: string;
  readonly got: string;
}

export class CaseTable {
  private readonly rows: CaseRow[] = [];

  constructor(private readonly title: string) {}

  /** Records a row and asserts that `got` is `expected`. */
  check(name: string, expected: string, got: string): void {
    this.rows.push({ name, expected, got });
    expect(`${name}: ${got}`).toBe(`${name}: ${expected}`);
  }

  /** Records a row whose pass/fail is decided by the assertions around it (measured figures, bounds). */
  note(name: string, expected: string, got: string): void {
    this.rows.push({ name, expected, got });
  }

  render(): string {
    const header: CaseRow = { name: "case", expected: "expected", got: "got" };
    const all = [header, ...this.rows];
    // Columns align up to 60 characters; a longer cell (a fuzzing tally) runs on rather than being cut.
    const width = (key: keyof CaseRow) => Math.min(60, Math.max(...all.map((row) => row[key].length)));
    const widths = { name: width("name"), expected: width("expected"), got: width("got") };
    const cell = (text: string, size: number) => text.replace(/\|/g, "\\|").padEnd(size);
    const line = (row: CaseRow) =>
      `| ${cell(row.name, widths.name)} | ${cell(row.expected, widths.expected)} | ${cell(row.got, widths.got)} |`;
    const rule = `|${"-".repeat(widths.name + 2)}|${"-".repeat(widths.expected + 2)}|${"-".repeat(widths.got + 2)}|`;
    return [`Reliability: ${this.title} (${this.rows.length} rows)`, line(header), rule, ...this.rows.map(line)].join("\n");
  }

  /** Prints the table once the file's tests have run. Call at the top level of a test file. */
  printAfterAll(): void {
    afterAll(() => {
      // console.log, not process.stdout: jest shows it under the file's result, in band or not.
      console.log(this.render());
    });
  }
}
