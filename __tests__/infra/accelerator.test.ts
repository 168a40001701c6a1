/** The accelerator option of InferenceService: GPUs requested, GPU nodes chosen, the service switched to CUDA. */
import { ACCELERATOR_DEFAULTS, GPU_CONFIG_DEFAULTS } from "../../infra";
import { CONFIG_SCHEMA } from "../../infra/service-contract";
import { oneOf, synthService } from "./manifests";

const podOf = (manifests: ReturnType<typeof synthService>) => oneOf(manifests, "Deployment").spec!.template.spec!;
const dataOf = (manifests: ReturnType<typeof synthService>) => oneOf(manifests, "ConfigMap").data!;

test("defaults: one nvidia.com/gpu in requests and limits, GPU feature discovery's node label, the GPU taint tolerated", () => {
  const manifests = synthService({ accelerator: {} });
  const pod = podOf(manifests);
  const resources = pod.containers[0].resources!;
  expect(resources.limits!["nvidia.com/gpu"]).toBe(1);
  expect(resources.requests!["nvidia.com/gpu"]).toBe(1);
  expect(pod.nodeSelector).toEqual({ "nvidia.com/gpu.present": "true" });
  expect(pod.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
  expect(pod.runtimeClassName).toBeUndefined();
  expect(ACCELERATOR_DEFAULTS).toMatchObject({ count: 1, resourceName: "nvidia.com/gpu" });
});

test("defaults: the service runs ONNX Runtime's CUDA provider with GPU batching", () => {
  const data = dataOf(synthService({ accelerator: {} }));
  expect(data[CONFIG_SCHEMA.executionProvider.name]).toBe("cuda");
  expect(data[CONFIG_SCHEMA.batchMaxSize.name]).toBe(String(GPU_CONFIG_DEFAULTS.batchMaxSize));
  expect(data[CONFIG_SCHEMA.batchMaxDelayMs.name]).toBe(String(GPU_CONFIG_DEFAULTS.batchMaxDelayMs));
  expect(GPU_CONFIG_DEFAULTS).toEqual({ executionProvider: "cuda", batchMaxSize: 128, batchMaxDelayMs: 2 });
});

test("the environment's config wins over the GPU batching defaults", () => {
  const data = dataOf(synthService({ accelerator: {}, config: { batchMaxSize: 64, batchMaxDelayMs: 0 } }));
  expect(data[CONFIG_SCHEMA.batchMaxSize.name]).toBe("64");
  expect(data[CONFIG_SCHEMA.batchMaxDelayMs.name]).toBe("0");
  expect(data[CONFIG_SCHEMA.executionProvider.name]).toBe("cuda");
});

test("each prop: count, resource name, node selector, tolerations, RuntimeClass", () => {
  const pod = podOf(
    synthService({
      accelerator: {
        count: 2,
        resourceName: "amd.com/gpu",
        nodeSelector: { "cloud.google.com/gke-accelerator": "nvidia-l4" },
        tolerations: [{ key: "sku", operator: "Equal", value: "gpu", effect: "NoExecute" }],
        runtimeClassName: "nvidia",
      },
    }),
  );
  expect(pod.containers[0].resources!.limits).toMatchObject({ "amd.com/gpu": 2 });
  expect(pod.containers[0].resources!.limits!["nvidia.com/gpu"]).toBeUndefined();
  expect(pod.nodeSelector).toEqual({ "cloud.google.com/gke-accelerator": "nvidia-l4" });
  expect(pod.tolerations).toEqual([{ key: "sku", operator: "Equal", value: "gpu", effect: "NoExecute" }]);
  expect(pod.runtimeClassName).toBe("nvidia");
});

test("an empty node selector leaves placement to the GPU request", () => {
  expect(podOf(synthService({ accelerator: { nodeSelector: {} } })).nodeSelector).toBeUndefined();
});

test("without an accelerator: no GPU, no node selector or tolerations, the CPU provider and the schema's batching", () => {
  const manifests = synthService({});
  const pod = podOf(manifests);
  expect(Object.keys(pod.containers[0].resources!.limits!).sort()).toEqual(["cpu", "ephemeral-storage", "memory"]);
  expect(pod.nodeSelector).toBeUndefined();
  expect(pod.tolerations).toBeUndefined();
  const data = dataOf(manifests);
  expect(data[CONFIG_SCHEMA.executionProvider.name]).toBe("cpu");
  expect(data[CONFIG_SCHEMA.batchMaxSize.name]).toBe(String(CONFIG_SCHEMA.batchMaxSize.default));
});
