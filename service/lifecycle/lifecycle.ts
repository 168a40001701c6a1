/**
 * Where the service is in its life, as the probes report it:
 * starting (model loading) -> ready (loaded, sha256 verified, warmed up) -> draining (shutting down);
 * failed when the model became unusable. Only `ready` serves predictions.
 */
export type Phase = "starting" | "ready" | "draining" | "failed";

export class Lifecycle {
  private current: Phase = "starting";
  private startedOnce = false;

  get phase(): Phase {
    return this.current;
  }

  /** Serving predictions. */
  get ready(): boolean {
    return this.current === "ready";
  }

  /** Startup finished once (startup probe), even if the service is draining now. */
  get started(): boolean {
    return this.startedOnce;
  }

  get draining(): boolean {
    return this.current === "draining";
  }

  /** The model is loaded, its sha256 matches the card, and a warm-up inference ran. */
  markReady(): void {
    if (this.current !== "starting") return;
    this.current = "ready";
    this.startedOnce = true;
  }

  /** Shutdown began: readiness turns false at once and stays false. */
  startDraining(): void {
    if (this.current === "failed") return;
    this.current = "draining";
  }

  /** The model can no longer serve; readiness stays false. */
  markFailed(): void {
    this.current = "failed";
  }
}
