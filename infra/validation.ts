/**
 * Checks that several constructs share, so that every refusal of a number reads the same way and names the
 * setting it refuses.
 */

/** Inclusive bounds of an integer setting. */
export interface IntegerBounds {
  /** The smallest value accepted. */
  readonly min: number;
  /**
   * The largest value accepted.
   * @default - no upper bound
   */
  readonly max?: number;
}

/** The phrase an error uses for a range: "a positive integer", "an integer from 1 to 100", ... */
function describeBounds({ min, max }: IntegerBounds): string {
  if (max !== undefined) return `an integer from ${min} to ${max}`;
  if (min === 0) return "a non-negative integer";
  if (min === 1) return "a positive integer";
  return `an integer of at least ${min}`;
}

/** Refuses a value that is not an integer within the bounds, naming `what` (for example "replicas"). */
export function assertInteger(value: number, what: string, bounds: IntegerBounds): void {
  const { min, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${what} must be ${describeBounds(bounds)}, got ${value}`);
  }
}

/** Refuses a TCP port number Kubernetes would reject. */
export function assertPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what} must be 1-65535, got ${port}`);
}
