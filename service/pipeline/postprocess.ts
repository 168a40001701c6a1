/** Stage "postprocess": logits to probabilities (softmax) and the k most probable classes. */

export interface ClassScore {
  readonly label: string;
  readonly index: number;
  readonly probability: number;
}

export interface Classification {
  /** The most probable class; `confidence` is its probability. */
  readonly prediction: { readonly label: string; readonly index: number; readonly confidence: number };
  /** The `k` most probable classes, most probable first; ties keep the lower index first. */
  readonly topK: readonly ClassScore[];
}

/** Softmax in float64, shifted by the largest logit so exp() never overflows. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const probabilities = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i] - max);
    probabilities[i] = e;
    sum += e;
  }
  for (let i = 0; i < probabilities.length; i++) probabilities[i] /= sum;
  return probabilities;
}

/** The k most probable classes, most probable first. */
export function topK(probabilities: ArrayLike<number>, k: number, labels: readonly string[]): ClassScore[] {
  const order = Array.from({ length: probabilities.length }, (_, i) => i);
  order.sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, Math.max(1, Math.min(k, order.length))).map((index) => ({
    label: labels[index] ?? String(index),
    index,
    probability: probabilities[index],
  }));
}

export function classify(logits: ArrayLike<number>, labels: readonly string[], k: number): Classification {
  if (logits.length !== labels.length) throw new RangeError(`expected ${labels.length} logits, got ${logits.length}`);
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i])) throw new RangeError(`logit ${i} is not finite`);
  }
  const scores = topK(softmax(logits), k, labels);
  const best = scores[0];
  return { prediction: { label: best.label, index: best.index, confidence: best.probability }, topK: scores };
}
