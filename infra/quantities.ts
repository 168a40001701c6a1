/**
 * Kubernetes resource quantities, parsed so that constructs can compare them at synth time
 * (a limit below its request, a CPU limit that ONNX Runtime threads must match).
 */

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const BINARY_SUFFIXES: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

/**
 * The numeric value of a quantity in its base unit (cores for CPU, bytes for memory).
 * Throws on anything Kubernetes would reject, naming `what` (for example "cpu limit").
 */
export function parseQuantity(quantity: string, what: string): number {
  const match = QUANTITY.exec(quantity);
  if (!match) {
    throw new Error(`${what} "${quantity}" is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi)`);
  }
  const [, digits, suffix = ""] = match;
  const multiplier = BINARY_SUFFIXES[suffix] ?? DECIMAL_SUFFIXES[suffix];
  return Number(digits) * multiplier;
}

/** CPU in millicores, rounded as the API server would ("1.5" → 1500). */
export function cpuMillicores(quantity: string, what: string): number {
  return Math.round(parseQuantity(quantity, what) * 1000);
}
