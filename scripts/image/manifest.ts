/**
 * What the delivery scripts need to know about a synthesized manifest file, read with a YAML parser rather than
 * grep: the images it runs, its Deployments, its Ingress URL, and the file split into Namespaces and the rest.
 *
 *   node --require ts-node/register/transpile-only scripts/image/manifest.ts <command> <manifest> [args]
 *
 *   images <manifest>                    every container image, one per line, sorted, without repeats
 *   deployments <manifest>               "<namespace> <name>" of each Deployment, one per line
 *   ingress-url <manifest> [path ...]    https://<host> (http:// when its TLS does not cover the host); refuses
 *                                        a path the Ingress does not route (its controller would answer 404)
 *   split <manifest> <namespaces> <rest> writes the Namespaces and everything else to two files; prints the
 *                                        Namespaces' names
 *
 * Why split: a server-side dry run does not create a Namespace, so on a fresh cluster every object inside it is
 * refused (`namespaces "…" not found`). deploy.sh applies the Namespaces first, then the rest.
 */
import { readFileSync, writeFileSync } from "node:fs";
import YAML from "yaml";
import { HTTP_CONTRACT } from "../../service/contract/http";

/** The fields of a Kubernetes object these commands read. */
interface KubeObject {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: {
    readonly rules?: ReadonlyArray<{
      readonly host?: string;
      readonly http?: {
        readonly paths?: ReadonlyArray<{
          readonly path?: string;
          readonly pathType?: string;
          readonly backend?: { readonly service?: { readonly port?: { readonly name?: string } } };
        }>;
      };
    }>;
    readonly tls?: ReadonlyArray<{ readonly hosts?: readonly string[] }>;
  };
}

/** One YAML document of the file: its source text (kept byte for byte) and its parsed object. */
interface ManifestDocument {
  readonly text: string;
  readonly object: KubeObject;
}

/** Parses a multi-document manifest; refuses YAML errors rather than guessing. */
export function parseManifest(text: string): ManifestDocument[] {
  return YAML.parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`manifest is not valid YAML: ${doc.errors[0].message}`);
    const object = doc.toJS() as KubeObject | null;
    return object === null ? [] : [{ text: doc.toString(), object }];
  });
}

/** Every container and init-container image, sorted, without repeats. */
export function imagesOf(text: string): string[] {
  const images = new Set<string>();
  const visit = (node: unknown, key: string | undefined): void => {
    if (Array.isArray(node)) {
      if (key === "containers" || key === "initContainers") {
        for (const c of node as Array<{ image?: unknown }>) if (typeof c?.image === "string") images.add(c.image);
      }
      for (const item of node) visit(item, undefined);
    } else if (node !== null && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) visit(v, k);
    }
  };
  for (const doc of parseManifest(text)) visit(doc.object, undefined);
  return [...images].sort();
}

/** Namespace and name of each object of a kind, in file order. */
export function objectsOfKind(text: string, kind: string): Array<{ namespace: string; name: string }> {
  return parseManifest(text)
    .filter((d) => d.object.kind === kind)
    .map((d) => ({ namespace: d.object.metadata?.namespace ?? "default", name: d.object.metadata?.name ?? "" }));
}

/** Whether an Ingress path rule matches a request path, as the Kubernetes Ingress API defines Exact and Prefix. */
function pathMatches(rule: { path?: string; pathType?: string }, requestPath: string): boolean {
  const path = rule.path ?? "/";
  if (rule.pathType === "Exact") return requestPath === path;
  // Prefix matches whole path elements: /v2 matches /v2 and /v2/health/ready, not /v2x.
  const prefix = path.replace(/\/+$/, "");
  return prefix === "" || requestPath === prefix || requestPath.startsWith(`${prefix}/`);
}

/**
 * The Ingresses to the HTTP API: those whose paths go to the Service's HTTP port. The gRPC Ingress (its own host,
 * the Service's grpc port) is not one: the smoke test speaks HTTP.
 */
function httpIngresses(text: string): ManifestDocument[] {
  return parseManifest(text).filter(
    (d) =>
      d.object.kind === "Ingress" &&
      (d.object.spec?.rules ?? []).some((r) => (r.http?.paths ?? []).some((p) => p.backend?.service?.port?.name === HTTP_CONTRACT.portName)),
  );
}

/** The request paths, of those given, that no rule of the file's HTTP Ingresses routes. */
export function unroutedPaths(text: string, requestPaths: readonly string[]): string[] {
  const rules = httpIngresses(text)
    .flatMap((d) => (d.object.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? []));
  return requestPaths.filter((requestPath) => !rules.some((rule) => pathMatches(rule, requestPath)));
}

/** The URL of the file's one HTTP Ingress host: https when a TLS entry lists the host. */
export function ingressUrl(text: string): string {
  const ingresses = httpIngresses(text);
  // A canary Ingress (ingress-nginx) names the same host as the main one: count each host once.
  const hosts = [...new Set(ingresses.flatMap((d) => (d.object.spec?.rules ?? []).map((r) => r.host).filter((h) => h !== undefined)))];
  if (hosts.length !== 1) throw new Error(`expected one Ingress host, found ${hosts.length} (${hosts.join(", ")})`);
  const host = hosts[0];
  const tls = ingresses.some((d) => (d.object.spec?.tls ?? []).some((t) => (t.hosts ?? []).includes(host)));
  return `${tls ? "https" : "http"}://${host}`;
}

/** The Namespaces and the other objects, each as a manifest of its own; order within each is kept. */
export function splitNamespaces(text: string): { namespaces: string; rest: string; names: string[] } {
  const docs = parseManifest(text);
  const isNamespace = (d: ManifestDocument) => d.object.kind === "Namespace";
  const join = (selected: ManifestDocument[]) => selected.map((d) => d.text).join("---\n");
  return {
    namespaces: join(docs.filter(isNamespace)),
    rest: join(docs.filter((d) => !isNamespace(d))),
    names: docs.filter(isNamespace).map((d) => d.object.metadata?.name ?? ""),
  };
}

function main(argv: readonly string[]): void {
  const [command, file, ...rest] = argv;
  if (file === undefined) throw new Error("usage: manifest.ts images|deployments|ingress-url|split <manifest> [args]");
  const text = readFileSync(file, "utf8");
  const print = (lines: readonly string[]) => lines.forEach((line) => console.log(line));
  switch (command) {
    case "images":
      return print(imagesOf(text));
    case "deployments":
      return print(objectsOfKind(text, "Deployment").map((d) => `${d.namespace} ${d.name}`));
    case "ingress-url": {
      const unrouted = unroutedPaths(text, rest);
      if (unrouted.length > 0) throw new Error(`the Ingress in ${file} does not route ${unrouted.join(", ")}`);
      return print([ingressUrl(text)]);
    }
    case "split": {
      const [namespacesFile, restFile] = rest;
      if (restFile === undefined) throw new Error("usage: manifest.ts split <manifest> <namespaces out> <rest out>");
      const split = splitNamespaces(text);
      writeFileSync(namespacesFile, split.namespaces);
      writeFileSync(restFile, split.rest);
      return print(split.names);
    }
    default:
      throw new Error(`unknown command "${command}" (images, deployments, ingress-url, split)`);
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`manifest: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
