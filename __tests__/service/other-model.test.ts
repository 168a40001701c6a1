/**
 * Nothing about CIFAR-10 is written outside the model card: a card with other labels, name and description
 * changes the top_k range, the OpenAPI document, the docs title and the demo page, with no code change.
 */
import request from "supertest";
import type { ModelCard } from "../../service/model/card";
import type { InferenceModel } from "../../service/model/onnx-model";
import { CARD_PATH, buildService, loadModelCard } from "./helpers";

/** Never called: these requests stop before inference. */
const unusedModel: InferenceModel = {
  run: () => Promise.reject(new Error("inference is not expected here")),
  close: () => Promise.resolve(),
};

describe("a model card with three labels", () => {
  let app: ReturnType<typeof buildService>["app"];
  const labels = ["apple", "pear", "plum"];
  beforeAll(async () => {
    const cifar = await loadModelCard(CARD_PATH);
    const card: ModelCard = {
      ...cifar,
      name: "fruitnet",
      description: "A fruit classifier trained on orchard photos.",
      labels,
      output: { ...cifar.output, shape: [-1, labels.length] },
    };
    app = buildService(card, unusedModel).app;
  });

  it("allows top_k from 1 to the class count, and defaults to no more than it", async () => {
    const tooMany = await request(app).post("/predict?top_k=4").attach("file", Buffer.from("x"), "x.jpg");
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toEqual({ code: "invalid_top_k", message: "top_k must be an integer from 1 to 3." });
    const page = await request(app).get("/");
    expect(page.text).toContain('data-top-k="3"');
  });

  it("describes the card's model, labels and range in /openapi.json, without CIFAR-10", async () => {
    const doc = (await request(app).get("/openapi.json")).body;
    expect(doc.info.title).toBe("fruitnet image classifier");
    expect(doc.info.description).toContain("one of 3 classes (apple, pear, plum)");
    expect(doc.info.description).toContain("A fruit classifier trained on orchard photos.");
    expect(doc.paths["/predict"].post.parameters[0].schema).toEqual({ type: "integer", minimum: 1, maximum: 3, default: 3 });
    expect(doc.components.schemas.Label.enum).toEqual(labels);
    expect(JSON.stringify(doc)).not.toMatch(/CIFAR/i);
  });

  it("titles the docs and the demo page with the card's name and labels, without CIFAR-10", async () => {
    expect((await request(app).get("/docs")).text).toContain("<title>fruitnet classifier API</title>");
    const page = (await request(app).get("/")).text;
    expect(page).toContain("one of 3 classes: apple, pear, plum.");
    expect(page).not.toMatch(/CIFAR/i);
  });
});
