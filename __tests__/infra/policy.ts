/**
 * The essentials of kube-score, kube-linter and Polaris, as plain functions over synthesized objects: each returns
 * the violations it finds, in words, so a failing test says what is wrong.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IProbe } from "kubernetes-models/v1/Probe";
import { allOf, selects, type Manifest } from "./manifests";

export interface PolicyOptions {
  /** The environment must serve HTTPS (production). */
  readonly requireTls: boolean;
}

function imageProblems(image: string | undefined): string[] {
  if (image === undefined || image === "") return ["has no image"];
  const withoutDigest = image.split("@")[0];
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  if (colon < 0) return [`image ${image} has no tag (that means latest)`];
  if (lastSegment.slice(colon + 1).toLowerCase() === "latest") return [`image ${image} uses the latest tag`];
  return [];
}

function probeTarget(probe: IProbe): string {
  return JSON.stringify(probe.httpGet ?? probe.tcpSocket ?? probe.exec ?? probe.grpc ?? null);
}

function containerProblems(container: IContainer, podRunsAsNonRoot: boolean): string[] {
  const problems: string[] = [...imageProblems(container.image)];
  const probes = { startup: container.startupProbe, liveness: container.livenessProbe, readiness: container.readinessProbe };
  for (const [kind, probe] of Object.entries(probes)) {
    if (probe === undefined) {
      problems.push(`has no ${kind} probe`);
      continue;
    }
    const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
    const exposed = (container.ports ?? []).some((p) => p.name === port || p.containerPort === port);
    if (port !== undefined && !exposed) problems.push(`${kind} probe targets port ${port}, which it does not expose`);
  }
  if (probes.liveness && probes.readiness && probeTarget(probes.liveness) === probeTarget(probes.readiness)) {
    problems.push("liveness and readiness probes are the same check");
  }
  for (const kind of ["requests", "limits"] as const) {
    for (const resource of ["cpu", "memory"]) {
      if (container.resources?.[kind]?.[resource] === undefined) problems.push(`has no ${resource} ${kind.slice(0, -1)}`);
    }
  }
  const security = container.securityContext ?? {};
  if (!(security.runAsNonRoot ?? podRunsAsNonRoot)) problems.push("may run as root");
  if (security.runAsUser === 0) problems.push("runs as uid 0");
  if (security.readOnlyRootFilesystem !== true) problems.push("has a writable root filesystem");
  if (security.allowPrivilegeEscalation !== false) problems.push("allows privilege escalation");
  if (security.privileged === true) problems.push("is privileged");
  if (!(security.capabilities?.drop ?? []).includes("ALL")) problems.push("does not drop all capabilities");
  if ((security.capabilities?.add ?? []).length > 0) problems.push("adds capabilities");
  return problems.map((p) => `container ${container.name} ${p}`);
}

/** Every violation in one environment's objects. */
export function policyViolations(manifests: readonly Manifest[], options: PolicyOptions): string[] {
  const problems: string[] = [];
  const namespaces = new Set(allOf(manifests, "Namespace").map((n) => n.metadata!.name));
  const deployments = allOf(manifests, "Deployment");
  const services = allOf(manifests, "Service");
  const autoscalers = allOf(manifests, "HorizontalPodAutoscaler");
  const budgets = allOf(manifests, "PodDisruptionBudget");
  const policies = allOf(manifests, "NetworkPolicy");
  const monitors = allOf(manifests, "ServiceMonitor");
  const configMaps = allOf(manifests, "ConfigMap");
  const serviceAccounts = allOf(manifests, "ServiceAccount");
  const recommenders = allOf(manifests, "VerticalPodAutoscaler");
  const sameNamespace = (a: Manifest | { metadata?: { namespace?: string } }, ns: string | undefined) =>
    a.metadata?.namespace === ns;

  for (const m of manifests) {
    if (m.kind !== "Namespace" && !namespaces.has(m.metadata.namespace ?? "")) {
      problems.push(`${m.kind} ${m.metadata.name} is in namespace ${m.metadata.namespace}, which is not created`);
    }
  }

  for (const d of deployments) {
    const where = `Deployment ${d.metadata!.name}`;
    const ns = d.metadata!.namespace;
    const pod = d.spec!.template;
    const podLabels = pod.metadata?.labels ?? {};
    const podSpec = pod.spec!;
    if (!selects(d.spec!.selector.matchLabels, podLabels)) problems.push(`${where}: selector does not match its pods`);
    const selectorKeys = Object.keys(d.spec!.selector.matchLabels ?? {}).sort();
    // A release track's Deployment also selects its track (stable or canary), which never changes for it.
    const track = d.spec!.selector.matchLabels?.track;
    const expectedKeys = ["app.kubernetes.io/instance", "app.kubernetes.io/name", ...(track === undefined ? [] : ["track"])];
    if (JSON.stringify(selectorKeys) !== JSON.stringify(expectedKeys)) {
      problems.push(`${where}: selector is not exactly app.kubernetes.io/name + instance (${selectorKeys.join(", ")})`);
    }
    if (track !== undefined && track !== "stable" && track !== "canary") {
      problems.push(`${where}: selects track "${track}", which is neither stable nor canary`);
    }
    if (podSpec.hostNetwork || podSpec.hostPID || podSpec.hostIPC) problems.push(`${where}: shares a host namespace`);
    const accountName = podSpec.serviceAccountName ?? "default";
    if (accountName === "default") problems.push(`${where}: runs as the namespace's default ServiceAccount`);
    else {
      const account = serviceAccounts.find((a) => a.metadata!.name === accountName && sameNamespace(a, ns));
      if (account === undefined) problems.push(`${where}: runs as ServiceAccount ${accountName}, which does not exist`);
      else if (account.automountServiceAccountToken !== false && podSpec.automountServiceAccountToken !== false) {
        problems.push(`${where}: mounts a ServiceAccount token it never uses`);
      }
    }
    const podNonRoot = podSpec.securityContext?.runAsNonRoot === true && podSpec.securityContext.runAsUser !== 0;
    for (const c of [...(podSpec.initContainers ?? []), ...podSpec.containers]) {
      problems.push(...containerProblems(c, podNonRoot).map((p) => `${where}: ${p}`));
      for (const source of c.envFrom ?? []) {
        const name = source.configMapRef?.name;
        if (name !== undefined && !configMaps.some((cm) => cm.metadata!.name === name && sameNamespace(cm, ns))) {
          problems.push(`${where}: envFrom names ConfigMap ${name}, which does not exist`);
        }
      }
    }

    const hpa = autoscalers.find(
      (h) => sameNamespace(h, ns) && h.spec!.scaleTargetRef.kind === "Deployment" && h.spec!.scaleTargetRef.name === d.metadata!.name,
    );
    if (hpa && d.spec!.replicas !== undefined) problems.push(`${where}: sets replicas although an HPA scales it`);
    const fewest = hpa ? (hpa.spec!.minReplicas ?? 1) : (d.spec!.replicas ?? 1);
    if (fewest > 1) {
      if (!budgets.some((b) => sameNamespace(b, ns) && selects(b.spec!.selector?.matchLabels, podLabels))) {
        problems.push(`${where}: runs ${fewest}+ replicas without a PodDisruptionBudget`);
      }
      const spreads = (podSpec.topologySpreadConstraints ?? []).some((c) => c.topologyKey === "kubernetes.io/hostname");
      const antiAffinity = podSpec.affinity?.podAntiAffinity !== undefined;
      if (!spreads && !antiAffinity) problems.push(`${where}: replicas may all land on one node`);
    }
    if (!policies.some((p) => sameNamespace(p, ns) && selects(p.spec!.podSelector.matchLabels, podLabels))) {
      problems.push(`${where}: no NetworkPolicy selects its pods`);
    }
    if (!services.some((s) => sameNamespace(s, ns) && selects(s.spec!.selector, podLabels))) {
      problems.push(`${where}: no Service selects its pods`);
    }
  }

  const podsOf = (ns: string | undefined) =>
    deployments
      .filter((d) => sameNamespace(d, ns))
      .map((d) => ({ labels: d.spec!.template.metadata?.labels ?? {}, containers: d.spec!.template.spec!.containers }));

  for (const s of services) {
    const where = `Service ${s.metadata!.name}`;
    const targets = podsOf(s.metadata!.namespace).filter((p) => selects(s.spec!.selector, p.labels));
    if (targets.length === 0) problems.push(`${where}: selects no pods`);
    for (const port of s.spec!.ports ?? []) {
      const target = port.targetPort ?? port.port;
      const exposed = targets.every((p) =>
        p.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === target || cp.containerPort === target)),
      );
      if (!exposed) problems.push(`${where}: targetPort ${target} is not a container port of its pods`);
    }
  }

  for (const h of autoscalers) {
    const ref = h.spec!.scaleTargetRef;
    const exists = deployments.some((d) => ref.kind === "Deployment" && d.metadata!.name === ref.name && sameNamespace(d, h.metadata!.namespace));
    if (!exists) problems.push(`HPA ${h.metadata!.name}: targets ${ref.kind} ${ref.name}, which does not exist`);
    if ((h.spec!.minReplicas ?? 1) > h.spec!.maxReplicas) problems.push(`HPA ${h.metadata!.name}: minReplicas above maxReplicas`);
  }

  for (const b of budgets) {
    if (!podsOf(b.metadata!.namespace).some((p) => selects(b.spec!.selector?.matchLabels, p.labels))) {
      problems.push(`PodDisruptionBudget ${b.metadata!.name}: selects no pods`);
    }
  }

  for (const p of policies) {
    if (!podsOf(p.metadata!.namespace).some((pod) => selects(p.spec!.podSelector.matchLabels, pod.labels))) {
      problems.push(`NetworkPolicy ${p.metadata!.name}: selects no pods`);
    }
    if (!(p.spec!.policyTypes ?? []).includes("Egress")) {
      problems.push(`NetworkPolicy ${p.metadata!.name}: leaves egress open (no Egress policy type)`);
    }
  }

  for (const v of recommenders) {
    const where = `VerticalPodAutoscaler ${v.metadata.name}`;
    const ref = v.spec.targetRef;
    const target = deployments.find((d) => ref.kind === "Deployment" && d.metadata!.name === ref.name && sameNamespace(d, v.metadata.namespace));
    if (target === undefined) problems.push(`${where}: targets ${ref.kind} ${ref.name}, which does not exist`);
    const containers = new Set(target?.spec!.template.spec!.containers.map((c) => c.name) ?? []);
    for (const policy of v.spec.resourcePolicy.containerPolicies) {
      if (target !== undefined && !containers.has(policy.containerName)) {
        problems.push(`${where}: names container ${policy.containerName}, which its target does not run`);
      }
    }
    const scaledByHpa = autoscalers.some(
      (h) => sameNamespace(h, v.metadata.namespace) && h.spec!.scaleTargetRef.kind === ref.kind && h.spec!.scaleTargetRef.name === ref.name,
    );
    if (scaledByHpa && v.spec.updatePolicy.updateMode !== "Off") {
      problems.push(`${where}: updateMode ${v.spec.updatePolicy.updateMode} resizes pods an HPA scales on the same requests`);
    }
  }

  for (const m of monitors) {
    const where = `ServiceMonitor ${m.metadata!.name}`;
    const allowed = m.spec.namespaceSelector?.matchNames ?? [m.metadata!.namespace!];
    const targets = services.filter(
      (s) => allowed.includes(s.metadata!.namespace!) && selects(m.spec.selector.matchLabels, s.metadata!.labels),
    );
    if (targets.length === 0) problems.push(`${where}: selects no Service`);
    for (const endpoint of m.spec.endpoints) {
      if (!targets.every((s) => (s.spec!.ports ?? []).some((p) => p.name === endpoint.port))) {
        problems.push(`${where}: endpoint port ${endpoint.port} is not a named port of the Service`);
      }
    }
  }

  const ingresses = allOf(manifests, "Ingress");
  const isCanary = (i: (typeof ingresses)[number]) => i.metadata!.annotations?.["nginx.ingress.kubernetes.io/canary"] === "true";
  const mainIngresses = ingresses.filter((i) => !isCanary(i));
  for (const i of ingresses) {
    const where = `Ingress ${i.metadata!.name}`;
    // ingress-nginx serves a canary Ingress inside its main Ingress's server: same host, the main one's TLS.
    const tlsSources = isCanary(i)
      ? mainIngresses.filter((main) => main.spec!.rules?.some((r) => r.host === i.spec!.rules?.[0]?.host) && sameNamespace(main, i.metadata!.namespace))
      : [i];
    if (isCanary(i) && tlsSources.length === 0) problems.push(`${where}: is a canary without a main Ingress for its host`);
    for (const rule of i.spec!.rules ?? []) {
      for (const p of rule.http?.paths ?? []) {
        const backend = p.backend.service!;
        const service = services.find((s) => s.metadata!.name === backend.name && sameNamespace(s, i.metadata!.namespace));
        if (service === undefined) {
          problems.push(`${where}: routes to Service ${backend.name}, which does not exist`);
        } else if (!(service.spec!.ports ?? []).some((sp) => sp.name === backend.port?.name || sp.port === backend.port?.number)) {
          problems.push(`${where}: routes to a port Service ${backend.name} does not have`);
        } else if ((service.spec!.ports ?? []).some((sp) => sp.name === backend.port?.name && sp.appProtocol === "grpc")) {
          // ingress-nginx proxies gRPC only with backend-protocol GRPC (on the main Ingress), and HTTP/2 only over TLS.
          const main = tlsSources[0];
          if (main?.metadata?.annotations?.["nginx.ingress.kubernetes.io/backend-protocol"] !== "GRPC") {
            problems.push(`${where}: routes to a gRPC port without backend-protocol GRPC`);
          }
          if (!tlsSources.some((source) => (source.spec!.tls ?? []).some((t) => (t.hosts ?? []).includes(rule.host ?? "")))) {
            problems.push(`${where}: serves gRPC on ${rule.host} without TLS, which ingress-nginx cannot`);
          }
        }
      }
      if (options.requireTls) {
        const covered = tlsSources.some((source) =>
          (source.spec!.tls ?? []).some((t) => (t.hosts ?? []).includes(rule.host ?? "") && t.secretName),
        );
        if (!covered) problems.push(`${where}: host ${rule.host} is served without TLS`);
      }
    }
  }
  if (ingresses.length === 0) problems.push("no Ingress");
  return problems;
}
