/**
 * The emptyDir volumes a read-only root filesystem needs: one per path the service writes to, each size-limited.
 */
import { k8s } from "cdk8s-plus-28";
import { parseQuantity } from "./quantities";

/** One emptyDir and where it is mounted. */
export interface WritableVolume {
  /** The volume's name, derived from the path ("/tmp" → "tmp"). */
  readonly name: string;
  readonly mountPath: string;
  readonly sizeLimit: string;
}

/** A volume per path; refuses a relative path, "/", "..", a zero size, and two paths that map to one name. */
export function writableVolumes(paths: readonly string[], sizeLimit: string): WritableVolume[] {
  if (parseQuantity(sizeLimit, "writableVolumeSize") <= 0) throw new Error("writableVolumeSize must be above zero");
  const volumes = paths.map((mountPath) => {
    if (!/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(mountPath) || mountPath.includes("..")) {
      throw new Error(`writable path "${mountPath}" must be an absolute directory other than /`);
    }
    const name = mountPath.slice(1).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    return { name: name.slice(0, 63), mountPath, sizeLimit };
  });
  const names = new Set(volumes.map((v) => v.name));
  if (names.size !== volumes.length) throw new Error(`writable paths ${paths.join(", ")} repeat or collide`);
  return volumes;
}

/** The pod's `volumes` entries. */
export function renderVolumes(volumes: readonly WritableVolume[]): k8s.Volume[] {
  return volumes.map((v) => ({ name: v.name, emptyDir: { sizeLimit: k8s.Quantity.fromString(v.sizeLimit) } }));
}

/** The container's `volumeMounts` entries. */
export function renderVolumeMounts(volumes: readonly WritableVolume[]): k8s.VolumeMount[] {
  return volumes.map((v) => ({ name: v.name, mountPath: v.mountPath }));
}
