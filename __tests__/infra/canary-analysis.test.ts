/** The canary's health, written once: the PromQL from the metric table and the verdict from the thresholds. */
import {
  CANARY_THRESHOLDS,
  errorRatioQuery,
  judgeTrack,
  p99LatencyQuery,
  successConditions,
} from "../../infra";
import { METRIC_DEFINITIONS } from "../../infra/service-contract";

const CANARY = { namespace: "pyramidnet-prod", track: "canary" } as const;

test("the thresholds: 1% server errors and 500 ms p99 over 5 minutes", () => {
  expect(CANARY_THRESHOLDS).toEqual({ maxErrorRatio: 0.01, maxP99LatencySeconds: 0.5, window: "5m" });
  expect(successConditions()).toEqual({ errorRatio: "result[0] <= 0.01", p99Latency: "result[0] <= 0.5" });
});

test("the error ratio: 5xx over all client requests of the track, from the table's counter", () => {
  const internal = '"/health/live|/health/ready|/health/startup|/livez|/readyz|/healthz|/metrics"';
  const selector = `namespace="pyramidnet-prod",track="canary",route!~${internal}`;
  expect(METRIC_DEFINITIONS.httpRequestsTotal.labels).toEqual(expect.arrayContaining(["route", "status_code"]));
  expect(errorRatioQuery(CANARY)).toBe(
    `(sum(rate(http_requests_total{${selector},status_code=~"5.."}[5m])) or vector(0))` +
      ` / sum(rate(http_requests_total{${selector}}[5m]))`,
  );
});

test("the p99: histogram_quantile over the table's request-duration buckets", () => {
  expect(METRIC_DEFINITIONS.httpRequestDuration.type).toBe("histogram");
  expect(p99LatencyQuery({ namespace: "ns", track: "stable" }, "10m")).toBe(
    'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="ns",track="stable",' +
      'route!~"/health/live|/health/ready|/health/startup|/livez|/readyz|/healthz|/metrics"}[10m])))',
  );
});

describe("judgeTrack", () => {
  test("healthy within both limits, the limits included", () => {
    expect(judgeTrack({ errorRatio: 0.01, p99LatencySeconds: 0.5 })).toEqual({ outcome: "healthy" });
    expect(judgeTrack({ errorRatio: 0, p99LatencySeconds: 0.042 })).toEqual({ outcome: "healthy" });
  });

  test("unhealthy above either limit, naming each", () => {
    expect(judgeTrack({ errorRatio: 0.05, p99LatencySeconds: 0.75 })).toEqual({
      outcome: "unhealthy",
      reasons: ["error ratio 5.00% is above 1.00%", "p99 latency 750 ms is above 500 ms"],
    });
    expect(judgeTrack({ errorRatio: 0.0101, p99LatencySeconds: 0.1 })).toEqual({
      outcome: "unhealthy",
      reasons: ["error ratio 1.01% is above 1.00%"],
    });
  });

  test("no data when Prometheus has none (a track without traffic): neither healthy nor unhealthy", () => {
    expect(judgeTrack({})).toEqual({
      outcome: "no-data",
      reasons: ["no error ratio (no requests in the window)", "no p99 latency (no requests in the window)"],
    });
    expect(judgeTrack({ errorRatio: 0, p99LatencySeconds: Number.NaN }).outcome).toBe("no-data");
  });

  test("a failure outranks missing data", () => {
    expect(judgeTrack({ errorRatio: 0.5 }).outcome).toBe("unhealthy");
  });

  test("other thresholds judge by them", () => {
    expect(judgeTrack({ errorRatio: 0.005, p99LatencySeconds: 0.1 }, { ...CANARY_THRESHOLDS, maxErrorRatio: 0.001 }).outcome).toBe("unhealthy");
  });
});
