/**
 * The one budget of prediction requests in flight, shared by every protocol (HTTP /predict and /v2, gRPC), so
 * CLASSIFIER_MAX_CONCURRENT_REQUESTS bounds the service as a whole, whatever port a request came in on.
 * Transport-free: each front end turns a refusal into its own answer (503 + Retry-After, RESOURCE_EXHAUSTED).
 */
import type { Metrics } from "../metrics/metrics";

/** Gives the slot back; calling it more than once releases once. */
export type Release = () => void;

export class ConcurrencyLimit {
  private inflight = 0;

  constructor(
    /** Most requests admitted at once. */
    readonly max: number,
    private readonly metrics: Pick<Metrics, "inflightRequests">,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`a concurrency limit must be a positive integer, got ${max}`);
  }

  /** Requests holding a slot now. */
  get current(): number {
    return this.inflight;
  }

  /** A slot, or undefined when all `max` are taken (the caller refuses the request at once). */
  tryAcquire(): Release | undefined {
    if (this.inflight >= this.max) return undefined;
    this.inflight++;
    this.metrics.inflightRequests.inc();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inflight--;
      this.metrics.inflightRequests.dec();
    };
  }
}
