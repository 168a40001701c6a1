/** ServiceMonitor alone: one endpoint on the Service port, in the Service's own namespace. */
import { ServiceMonitor, type ServiceMonitorProps } from "../../infra";
import { oneOf, synthConstructs } from "./manifests";

const PROPS: ServiceMonitorProps = {
  name: "classifier",
  namespace: "vision",
  labels: { release: "prom" },
  serviceSelector: { app: "classifier" },
  portName: "web",
  path: "/stats",
};
const monitorOf = (props: Partial<ServiceMonitorProps>) =>
  oneOf(synthConstructs((scope) => new ServiceMonitor(scope, "Monitor", { ...PROPS, ...props })), "ServiceMonitor");

test("defaults: every 15 s with a 10 s timeout, over plain HTTP", () => {
  const monitor = monitorOf({});
  expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
  expect(monitor.metadata).toEqual({ name: "classifier", namespace: "vision", labels: { release: "prom" } });
  expect(monitor.spec).toEqual({
    selector: { matchLabels: { app: "classifier" } },
    namespaceSelector: { matchNames: ["vision"] },
    endpoints: [{ port: "web", path: "/stats", interval: "15s", scrapeTimeout: "10s", scheme: "http" }],
  });
});

test("interval and timeout are the props; a timeout equal to the interval is allowed", () => {
  expect(monitorOf({ interval: "1m", scrapeTimeout: "1m" }).spec.endpoints![0]).toMatchObject({ interval: "1m", scrapeTimeout: "1m" });
  expect(monitorOf({ interval: "30s", scrapeTimeout: "500ms" }).spec.endpoints![0]).toMatchObject({ scrapeTimeout: "500ms" });
});

test("podTargetLabels: copied into the spec when given, absent by default", () => {
  expect(monitorOf({ podTargetLabels: ["track"] }).spec.podTargetLabels).toEqual(["track"]);
  expect(monitorOf({}).spec).not.toHaveProperty("podTargetLabels");
});
