/**
 * The entry `cdk8s synth` runs (cdk8s.yaml). The CLI empties the output directory and passes it in CDK8S_OUTDIR.
 * IMAGE_TAG overrides the image tag of every environment and IMAGE_DIGEST pins it to a digest; without them the
 * committed dist/ is reproduced exactly.
 */
import { resolveImageDigest, resolveImageTag, synthesize } from "./app";

try {
  synthesize({
    outdir: process.env.CDK8S_OUTDIR ?? "dist",
    imageTag: resolveImageTag(process.env),
    imageDigest: resolveImageDigest(process.env),
  });
} catch (error) {
  // A refused setting is a user error: print the reason, not a stack trace.
  console.error(`synth failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
