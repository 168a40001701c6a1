/**
 * Service level objectives and the multi-window, multi-burn-rate alert tiers of the Google SRE workbook
 * ("Alerting on SLOs", recommendation 6): each tier fires when the error budget burns faster than its factor over
 * both a long window (the budget actually spent) and a short one (it is still burning now, so the alert resets
 * soon after the fault ends).
 */

/** What an environment promises, over a 30-day budget period. */
export interface SloObjectives {
  /**
   * Share of prediction requests answered without a server error (any 5xx, the 503s of overload included).
   * 0.995 = 99.5%.
   */
  readonly availability: number;
  /** Share of prediction calls that finish under `thresholdSeconds`. */
  readonly latency: {
    readonly target: number;
    /** Must be a bucket bound of prediction_latency_seconds, or the ratio could not be read from the histogram. */
    readonly thresholdSeconds: number;
  };
}

/** The defaults SloObjectives documents: 99.5% of predictions succeed, 99% under 250 ms. */
export const SLO_DEFAULTS = {
  availability: 0.995,
  latency: { target: 0.99, thresholdSeconds: 0.25 },
} as const satisfies SloObjectives;

export type AlertSeverity = "critical" | "warning";

/** One burn-rate alert tier. */
export interface BurnRateTier {
  /** Part of the alert name: PyramidNet<Sli><name>Burn. */
  readonly name: string;
  /** How many times faster than sustainable the budget burns. */
  readonly factor: number;
  /** The window that measures the budget spent. */
  readonly longWindow: string;
  /** The window that proves it is still burning (1/12 of the long one). */
  readonly shortWindow: string;
  /** How long both must hold before the alert fires. */
  readonly for: string;
  /** critical pages someone, warning opens a ticket. */
  readonly severity: AlertSeverity;
}

/**
 * The workbook's tiers for a 30-day budget: 2% of it spent in 1 h (14.4x) or 5% in 6 h (6x) page; 10% in 1 d (3x)
 * or 10% in 3 d (1x) open a ticket.
 */
export const BURN_RATE_TIERS: readonly BurnRateTier[] = [
  { name: "Fast", factor: 14.4, longWindow: "1h", shortWindow: "5m", for: "2m", severity: "critical" },
  { name: "Medium", factor: 6, longWindow: "6h", shortWindow: "30m", for: "15m", severity: "critical" },
  { name: "Slow", factor: 3, longWindow: "1d", shortWindow: "2h", for: "1h", severity: "warning" },
  { name: "Chronic", factor: 1, longWindow: "3d", shortWindow: "6h", for: "3h", severity: "warning" },
];

/** Every window a tier reads, short ones first, without repeats. */
export function burnRateWindows(tiers: readonly BurnRateTier[] = BURN_RATE_TIERS): string[] {
  return [...new Set(tiers.flatMap((tier) => [tier.shortWindow, tier.longWindow]))];
}

/** Refuses objectives that cannot be alerted on: a target of 100% leaves no budget to burn. */
export function assertObjectives(objectives: SloObjectives, latencyBuckets: readonly number[]): void {
  const checkTarget = (value: number, what: string) => {
    if (!(value > 0 && value < 1)) {
      throw new Error(`SLO ${what} must be a ratio strictly between 0 and 1 (0.995 = 99.5%), got ${value}`);
    }
  };
  checkTarget(objectives.availability, "availability");
  checkTarget(objectives.latency.target, "latency target");
  if (!latencyBuckets.includes(objectives.latency.thresholdSeconds)) {
    throw new Error(
      `SLO latency threshold ${objectives.latency.thresholdSeconds} s is not a bucket bound of the latency histogram ` +
        `(${latencyBuckets.join(", ")}): the share of requests under it cannot be measured`,
    );
  }
}
