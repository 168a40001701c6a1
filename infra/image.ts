/**
 * Container image references. A deployment must name an exact, immutable-by-convention tag: `latest` (or no tag,
 * which means `latest`) makes a rollout irreproducible and lets nodes run different code under one spec.
 */

/** An image the cluster pulls: `repository:tag`, optionally pinned further by digest. */
export interface ImageReference {
  /** Registry and path, without tag, for example `ghcr.io/acme/pyramidnet` or `pyramidnet`. */
  readonly repository: string;
  /** The tag; never `latest`. */
  readonly tag: string;
  /**
   * A content digest (`sha256:` followed by 64 hex digits). When set the kubelet pulls by digest, and the tag
   * stays in the reference for humans.
   * @default - no digest: the tag alone identifies the image
   */
  readonly digest?: string;
}

// The grammar of github.com/distribution/reference, simplified to what a deployment needs.
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Checks an image reference and renders it as the `image` field of a container. */
export function renderImage(image: ImageReference): string {
  if (!REPOSITORY.test(image.repository)) {
    throw new Error(
      `image repository "${image.repository}" is not a valid reference (lowercase path such as ghcr.io/acme/pyramidnet, no tag)`,
    );
  }
  if (image.tag.trim() === "") {
    throw new Error(`image ${image.repository} has no tag: set an exact version (a missing tag means "latest")`);
  }
  if (image.tag.toLowerCase() === "latest") {
    throw new Error(`image ${image.repository}:${image.tag} uses the "latest" tag: pin an exact version`);
  }
  if (!TAG.test(image.tag)) {
    throw new Error(`image tag "${image.tag}" is not valid (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  if (image.digest !== undefined && !DIGEST.test(image.digest)) {
    throw new Error(`image digest "${image.digest}" is not valid (sha256: followed by 64 lowercase hex digits)`);
  }
  const tagged = `${image.repository}:${image.tag}`;
  return image.digest === undefined ? tagged : `${tagged}@${image.digest}`;
}
