import { classify, softmax, topK } from "../../service/pipeline/postprocess";

const LABELS = ["a", "b", "c", "d"];

describe("softmax", () => {
  it("matches the textbook formula on small logits and sums to 1", () => {
    const logits = [1, 2, 3, 0.5];
    const expected = logits.map((x) => Math.exp(x) / logits.reduce((s, y) => s + Math.exp(y), 0));
    const probabilities = softmax(logits);
    probabilities.forEach((p, i) => expect(p).toBeCloseTo(expected[i], 12));
    expect(probabilities.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 12);
  });

  it("stays finite for logits whose exp() overflows", () => {
    const probabilities = softmax([1000, 999, -1000, 0]);
    expect([...probabilities].every(Number.isFinite)).toBe(true);
    expect(probabilities[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(probabilities[1]).toBeCloseTo(Math.exp(-1) / (1 + Math.exp(-1)), 12);
  });

  it("is invariant to adding a constant", () => {
    const a = softmax([0.1, 0.2, 0.3, 0.4]);
    const b = softmax([100.1, 100.2, 100.3, 100.4]);
    a.forEach((p, i) => expect(b[i]).toBeCloseTo(p, 12));
  });
});

describe("topK", () => {
  it("orders by probability, breaks ties by index, and clamps k", () => {
    const scores = topK([0.1, 0.4, 0.1, 0.4], 3, LABELS);
    expect(scores.map((s) => s.index)).toEqual([1, 3, 0]);
    expect(topK([0.1, 0.2, 0.3, 0.4], 99, LABELS)).toHaveLength(4);
    expect(topK([0.1, 0.2, 0.3, 0.4], 0, LABELS)).toHaveLength(1);
  });
});

describe("classify", () => {
  it("reports the top-1 class as the prediction with its probability as confidence", () => {
    const result = classify(new Float32Array([0, 5, 1, 2]), LABELS, 2);
    expect(result.prediction.label).toBe("b");
    expect(result.prediction.index).toBe(1);
    expect(result.prediction.confidence).toBe(result.topK[0].probability);
    expect(result.topK.map((s) => s.label)).toEqual(["b", "d"]);
  });

  it("refuses non-finite logits and a wrong count", () => {
    expect(() => classify([NaN, 1, 2, 3], LABELS, 1)).toThrow(/not finite/);
    expect(() => classify([1, 2], LABELS, 1)).toThrow(/expected 4 logits/);
  });
});
