/**
 * The benchmark's "Inside ours" table reads the service's own histograms. These tests feed it what the service
 * really exposes (a live registry's text, with the model_version label) so a label added to a metric cannot
 * silently turn the table into zeros again.
 */
import request from "supertest";
import { breakdown, parseSumsAndCounts } from "../../bench/server-metrics";
import { METRIC_NAMES } from "../../service/contract/metrics";
import { loadModelCard, type ModelCard } from "../../service/model/card";
import type { OnnxModel } from "../../service/model/onnx-model";
import {
  CARD_PATH,
  PREVIOUS_CARD_PATH,
  buildVersionedService,
  loadGolden,
  loadRealModel,
  type TestService,
} from "../service/helpers";

const STAGE = METRIC_NAMES.stageDuration;
const BATCH = METRIC_NAMES.batchSize;

describe("bench server metrics", () => {
  it("sums the stage and batch histograms over model versions, keeping the stage apart", () => {
    const text = [
      `# HELP ${STAGE} Time spent in each pipeline stage`,
      `# TYPE ${STAGE} histogram`,
      `${STAGE}_bucket{model_version="1.1.0",stage="decode",le="0.001"} 3`,
      `${STAGE}_sum{model_version="1.1.0",stage="decode"} 0.004`,
      `${STAGE}_count{model_version="1.1.0",stage="decode"} 4`,
      `${STAGE}_sum{model_version="1.0.0",stage="decode"} 0.006`,
      `${STAGE}_count{model_version="1.0.0",stage="decode"} 2`,
      `${STAGE}_sum{model_version="1.1.0",stage="inference"} 0.03`,
      `${STAGE}_count{model_version="1.1.0",stage="inference"} 3`,
      `${BATCH}_sum{model_version="1.1.0"} 5`,
      `${BATCH}_count{model_version="1.1.0"} 2`,
      `${BATCH}_sum{model_version="1.0.0"} 1`,
      `${BATCH}_count{model_version="1.0.0"} 1`,
      `process_cpu_seconds_total 12`,
    ].join("\n");
    const values = parseSumsAndCounts(text);
    expect(Object.fromEntries(values)).toEqual({
      [`${STAGE}_sum{stage="decode"}`]: 0.01,
      [`${STAGE}_count{stage="decode"}`]: 6,
      [`${STAGE}_sum{stage="inference"}`]: 0.03,
      [`${STAGE}_count{stage="inference"}`]: 3,
      [`${BATCH}_sum`]: 6,
      [`${BATCH}_count`]: 3,
    });
    const stages = breakdown(new Map(), values);
    expect(stages.meanBatchSize).toBe(2);
    expect(stages.batches).toBe(3);
    expect(stages.decodeMs).toBeCloseTo(10 / 6, 10);
    expect(stages.inferenceMsPerRun).toBeCloseTo(10, 10);
    expect(stages.queueWaitMs).toBe(0);
  });

  describe("against a real service serving two versions", () => {
    let current: ModelCard;
    let previous: ModelCard;
    let models: OnnxModel[];
    let service: TestService;
    beforeAll(async () => {
      [current, previous] = await Promise.all([loadModelCard(CARD_PATH), loadModelCard(PREVIOUS_CARD_PATH)]);
      models = await Promise.all([loadRealModel(previous), loadRealModel(current)]);
      service = buildVersionedService(
        [
          { card: previous, model: models[0] },
          { card: current, model: models[1] },
        ],
        { CLASSIFIER_MODEL_VERSION_POLICY: "all" },
      );
    });
    afterAll(async () => {
      await Promise.all(models.map((model) => model.close()));
    });

    const scrape = async () => parseSumsAndCounts((await request(service.app).get("/metrics").expect(200)).text);

    it("finds the window's batches and stage times in its /metrics, over both versions", async () => {
      const before = await scrape();
      const image = loadGolden().images[0].bytes;
      for (const query of ["", `?model_version=${previous.version}`]) {
        await request(service.app).post(`/predict${query}`).attach("file", image, "a.jpg").expect(200);
      }
      const stages = breakdown(before, await scrape());
      expect(stages.batches).toBe(2);
      expect(stages.meanBatchSize).toBe(1);
      expect(stages.decodeMs).toBeGreaterThan(0);
      expect(stages.queueWaitMs).toBeGreaterThan(0);
      expect(stages.inferenceMsPerRun).toBeGreaterThan(0);
    });
  });
});
