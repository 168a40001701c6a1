/** Prometheus durations ("15s", "2m", "250ms"): parsed, validated and written back, for every rule and monitor. */

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds in a single-unit Prometheus duration; refuses anything else with a message naming `what`. */
export function durationSeconds(value: string, what: string): number {
  const match = DURATION.exec(value);
  if (!match) throw new Error(`${what} "${value}" is not a Prometheus duration such as 15s or 1m`);
  return Number(match[1]) * UNIT_SECONDS[match[2]];
}

/** The shortest single-unit duration for a number of seconds (whole milliseconds). */
export function formatDuration(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  if (ms <= 0) throw new Error(`a duration must be positive, got ${seconds} s`);
  for (const [unit, unitSeconds] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (ms % (unitSeconds * 1000) === 0) return `${ms / (unitSeconds * 1000)}${unit}`;
  }
  return `${ms}ms`;
}
