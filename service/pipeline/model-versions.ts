/**
 * The versions of one model that a process serves, each with its own pipeline (decoder from its own card, its
 * own batcher and queue), so two versions never share a batch. Knows nothing of HTTP: a lookup that fails says
 * why ("unknown" or "not_loaded"), and each protocol answers in its own shape.
 */
import type { InferencePipeline } from "./classifier";

export interface ModelVersionsOptions {
  /** The loaded versions' pipelines, all of one model. */
  readonly pipelines: readonly InferencePipeline[];
  /** The version that answers when a request names none; must be loaded. */
  readonly defaultVersion: string;
  /** Every version the repository holds, loaded or not. @default the loaded versions */
  readonly repositoryVersions?: readonly string[];
  /** The version policy that chose the loaded versions, for messages. @default "specific:<the loaded versions>" */
  readonly policy?: string;
}

export type VersionLookup =
  | { readonly ok: true; readonly pipeline: InferencePipeline }
  | { readonly ok: false; readonly reason: "unknown" | "not_loaded"; readonly message: string };

export class ModelVersions {
  readonly name: string;
  readonly defaultVersion: string;
  /** Loaded versions, in the order given (oldest first when they come from the repository). */
  readonly loaded: readonly string[];
  readonly repositoryVersions: readonly string[];
  private readonly byVersion: ReadonlyMap<string, InferencePipeline>;
  private readonly policy: string;

  constructor(options: ModelVersionsOptions) {
    const { pipelines, defaultVersion } = options;
    if (pipelines.length === 0) throw new Error("ModelVersions needs at least one loaded version");
    this.name = pipelines[0].model.name;
    const other = pipelines.find((p) => p.model.name !== this.name);
    if (other !== undefined) throw new Error(`ModelVersions serves one model; got ${this.name} and ${other.model.name}`);
    this.byVersion = new Map(pipelines.map((p) => [p.model.version, p]));
    if (this.byVersion.size !== pipelines.length) throw new Error(`${this.name}: a version is loaded twice`);
    if (!this.byVersion.has(defaultVersion)) {
      throw new Error(`${this.name}: the default version ${defaultVersion} is not among the loaded ${[...this.byVersion.keys()].join(", ")}`);
    }
    this.defaultVersion = defaultVersion;
    this.loaded = pipelines.map((p) => p.model.version);
    this.repositoryVersions = options.repositoryVersions ?? this.loaded;
    this.policy = options.policy ?? `specific:${this.loaded.join(",")}`;
  }

  /** The default version's pipeline. */
  get default(): InferencePipeline {
    return this.pipeline(this.defaultVersion);
  }

  /** Every loaded version's pipeline, in {@link loaded} order. */
  get pipelines(): InferencePipeline[] {
    return this.loaded.map((v) => this.pipeline(v));
  }

  /** The pipeline of `version` (the default when undefined), or why there is none. */
  lookup(version: string | undefined): VersionLookup {
    if (version === undefined) return { ok: true, pipeline: this.default };
    const pipeline = this.byVersion.get(version);
    if (pipeline !== undefined) return { ok: true, pipeline };
    const loaded = this.loaded.join(", ");
    if (this.repositoryVersions.includes(version)) {
      return {
        ok: false,
        reason: "not_loaded",
        message:
          `Version "${version}" of model "${this.name}" is in the model repository but not loaded by this server ` +
          `(version policy ${this.policy}); loaded versions: ${loaded}.`,
      };
    }
    return {
      ok: false,
      reason: "unknown",
      message: `Model "${this.name}" has no version "${version}"; loaded versions: ${loaded}.`,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.pipelines.map((p) => p.close()));
  }

  private pipeline(version: string): InferencePipeline {
    const pipeline = this.byVersion.get(version);
    if (pipeline === undefined) throw new Error(`${this.name} ${version} is not loaded`);
    return pipeline;
  }
}
