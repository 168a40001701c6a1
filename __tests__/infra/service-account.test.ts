/** The pods' own ServiceAccount (token never mounted) and the image pull secrets. */
import { oneOf, synthService } from "./manifests";

test("every InferenceService has a ServiceAccount named like it, with automount off, and its pods run as it", () => {
  const manifests = synthService({ name: "classifier" });
  const account = oneOf(manifests, "ServiceAccount");
  expect(account.metadata).toMatchObject({ name: "classifier", namespace: "pyramidnet-test" });
  expect(account.metadata!.labels).toMatchObject({ "app.kubernetes.io/name": "classifier" });
  expect(account.automountServiceAccountToken).toBe(false);
  expect(account.imagePullSecrets).toBeUndefined();
  const pod = oneOf(manifests, "Deployment").spec!.template.spec!;
  expect(pod.serviceAccountName).toBe("classifier");
  expect(pod.automountServiceAccountToken).toBe(false);
});

test("imagePullSecrets go on the pod, in order; none by default", () => {
  const pod = (secrets?: string[]) =>
    oneOf(synthService({ imagePullSecrets: secrets }), "Deployment").spec!.template.spec!;
  expect(pod().imagePullSecrets).toBeUndefined();
  expect(pod([]).imagePullSecrets).toBeUndefined();
  expect(pod(["ghcr-credentials", "ecr.mirror"]).imagePullSecrets).toEqual([{ name: "ghcr-credentials" }, { name: "ecr.mirror" }]);
});
