/**
 * The app.kubernetes.io labels every object carries, and the subset that selects pods.
 *
 * Selectors are built only from the explicit name and instance, never from construct ids or paths: a Deployment's
 * selector is immutable in a cluster, so renaming or moving a construct must not change it.
 */

export const LABEL = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  version: "app.kubernetes.io/version",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  managedBy: "app.kubernetes.io/managed-by",
} as const;

/** The identity of one deployed application instance. */
export interface AppIdentity {
  /** The application's name (app.kubernetes.io/name). */
  readonly name: string;
  /** The instance's unique name (app.kubernetes.io/instance). */
  readonly instance: string;
  /** The application's version (app.kubernetes.io/version), usually the image tag. */
  readonly version: string;
  /** The role inside the architecture (app.kubernetes.io/component). */
  readonly component: string;
  /** The larger application this is part of (app.kubernetes.io/part-of). */
  readonly partOf: string;
}

/** Labels that select this instance's pods; stable for the instance's whole life. */
export function selectorLabels(identity: Pick<AppIdentity, "name" | "instance">): Record<string, string> {
  return { [LABEL.name]: identity.name, [LABEL.instance]: identity.instance };
}

/** Every recommended label, for metadata (selectors use {@link selectorLabels} only). */
export function standardLabels(identity: AppIdentity): Record<string, string> {
  return {
    ...selectorLabels(identity),
    [LABEL.version]: identity.version,
    [LABEL.component]: identity.component,
    [LABEL.partOf]: identity.partOf,
    [LABEL.managedBy]: "cdk8s",
  };
}

// RFC 1123 label, which Kubernetes requires of names such as Services and Namespaces.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Label values: at most 63 characters, alphanumeric at both ends.
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Refuses a name Kubernetes would reject, naming what it is for. */
export function assertDnsLabel(value: string, what: string): void {
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new Error(`${what} "${value}" must be a DNS label: lowercase letters, digits and -, at most 63 characters`);
  }
}

/** Refuses a label value Kubernetes would reject. */
export function assertLabelValue(value: string, what: string): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw new Error(`${what} "${value}" is not a valid label value (at most 63 characters, alphanumeric at both ends)`);
  }
}

// RFC 1123 subdomain, which Kubernetes requires of Secret and RuntimeClass names: dot-separated DNS labels.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// A label key's name part: at most 63 characters, alphanumeric at both ends, with -, _ and . inside.
const LABEL_KEY_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Refuses a name that must be a DNS subdomain (Secrets, RuntimeClasses), naming what it is for. */
export function assertDnsSubdomain(value: string, what: string): void {
  if (value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw new Error(`${what} "${value}" must be a DNS subdomain: lowercase letters, digits, - and ., at most 253 characters`);
  }
}

/** Refuses a label key Kubernetes would reject: an optional DNS-subdomain prefix and "/", then a name. */
export function assertLabelKey(key: string, what: string): void {
  const slash = key.lastIndexOf("/");
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = key.slice(slash + 1);
  const validPrefix = prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  if (!validPrefix || name.length > 63 || !LABEL_KEY_NAME.test(name)) {
    throw new Error(`${what} key "${key}" is not a valid label key (optional DNS-subdomain prefix and /, then at most 63 characters)`);
  }
}

/** Refuses a label map with a key or value Kubernetes would reject (selectors and node selectors alike). */
export function assertLabels(labels: Readonly<Record<string, string>>, what: string): void {
  for (const [key, value] of Object.entries(labels)) {
    assertLabelKey(key, what);
    assertLabelValue(value, `${what} "${key}"`);
  }
}
