/** AppNamespace alone: cluster-scoped, its labels, and the Pod Security level it enforces, warns and audits. */
import { AppNamespace } from "../../infra";
import { oneOf, synthConstructs } from "./manifests";

const namespaceOf = (props: ConstructorParameters<typeof AppNamespace>[2]) =>
  oneOf(synthConstructs((scope) => new AppNamespace(scope, "Namespace", props)), "Namespace");

test("defaults to the restricted level on all three Pod Security modes, and carries no namespace itself", () => {
  const namespace = namespaceOf({ name: "vision" });
  expect(namespace.metadata).toEqual({
    name: "vision",
    labels: {
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/warn": "restricted",
      "pod-security.kubernetes.io/audit": "restricted",
    },
  });
});

test("keeps its labels and takes the level from podSecurity; the Pod Security labels cannot be overridden by labels", () => {
  const namespace = namespaceOf({
    name: "vision",
    labels: { team: "ml", "pod-security.kubernetes.io/enforce": "privileged" },
    podSecurity: "baseline",
  });
  expect(namespace.metadata!.labels).toEqual({
    team: "ml",
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "baseline",
    "pod-security.kubernetes.io/audit": "baseline",
  });
});
