# PyramidNet CIFAR-10 classifier: Express + ONNX Runtime + sharp, as a small non-root image.
#
#   npm run image:build            (scripts/image/build.sh: tags with the git SHA, sets the OCI labels, writes an SBOM)
#   docker compose up --build      (docker-compose.yml: the pod's security context, locally)
#
# Stages: build compiles TypeScript; deps installs production dependencies and prunes them to one platform;
# runtime only copies files and sets metadata, so nothing in the final stage runs as root at build time.
# No "# syntax=" line: it makes the build fetch its frontend image from Docker Hub, and the frontend built into
# Docker 20.10 and later already supports RUN --mount=type=cache.
# __tests__/container/engine.test.ts builds this file with a real engine and runs the image as
# dist/production.k8s.yaml runs it; __tests__/container/dockerfile.test.ts checks the rules.

# Pinned by exact tag (bump it deliberately); the same Node that CI tests with. Where no registry is reachable,
# scripts/image/local-base-image.sh makes an image with this tag from Debian and the official Node binary.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The only install scripts in the tree are swagger-ui-dist's telemetry (@scarf/scarf) and onnxruntime-node's
# optional GPU download (.npmrc turns them off as well): nothing the build needs.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY service ./service
COPY scripts ./scripts
COPY bench ./bench
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY scripts/image/prune-runtime-deps.sh ./scripts/image/
# One RUN, so the 250 MB of other platforms' ONNX Runtime never lands in a layer.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --ignore-scripts \
    && sh scripts/image/prune-runtime-deps.sh node_modules

# GPU build, a separate target (docker build --target runtime-cuda): the same service with onnxruntime-node's CUDA
# provider libraries, which its install script downloads from NuGet (Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0),
# and NVIDIA's CUDA 12 runtime, cuBLAS, cuFFT, cuRAND and cuDNN 9 from NVIDIA's Debian 12 repository. Both need that
# network at build time; nothing is fetched when the pod starts. The node supplies the driver (libcuda) through the
# NVIDIA container runtime. Set CLASSIFIER_ORT_EXECUTION_PROVIDER=cuda (the gpu environment does).
FROM ${NODE_IMAGE} AS deps-cuda
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
RUN cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js \
    && test -f bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

FROM ${NODE_IMAGE} AS runtime-cuda
ARG CUDA_REPOSITORY=https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && curl -fsSL "${CUDA_REPOSITORY}/cuda-keyring_1.1-1_all.deb" -o /tmp/cuda-keyring.deb \
    && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb && apt-get update \
    && apt-get install -y --no-install-recommends cuda-cudart-12-8 libcublas-12-8 libcufft-12-8 libcurand-12-8 libcudnn9-cuda-12 \
    && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    LD_LIBRARY_PATH=/usr/local/cuda-12.8/targets/x86_64-linux/lib CLASSIFIER_ORT_EXECUTION_PROVIDER=cuda
WORKDIR /app
COPY --from=deps-cuda /app/node_modules ./node_modules
COPY --from=build /app/build/service ./build/service
COPY --from=build /app/build/scripts/image/healthcheck.js ./build/scripts/image/
COPY package.json ./
COPY models/ ./models/
USER 1000:1000
EXPOSE 8000
STOPSIGNAL SIGTERM
CMD ["node", "build/service/main.js"]

FROM ${NODE_IMAGE} AS runtime
ARG NODE_IMAGE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
# Set by scripts/image/build.sh from the git remote.
ARG SOURCE=""
LABEL org.opencontainers.image.title="pyramidnet-classifier" \
      org.opencontainers.image.description="PyramidNet CIFAR-10 image classifier: Express 5, ONNX Runtime, sharp" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/${NODE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root: the service (uid 1000) can read its code and model but never change them,
# even where the root filesystem is writable (docker run without --read-only).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/build/service ./build/service
COPY --from=build /app/build/scripts/image/healthcheck.js ./build/scripts/image/
COPY package.json ./
# The model repository: every version's ONNX file and card (models/<model>/<version>/), so one image serves any
# version policy; .dockerignore keeps the PyTorch weights and the training recipe out.
COPY models/ ./models/
# The gRPC API's .proto files, loaded at run time (service/protocols/grpc/definition.ts looks for /app/proto).
COPY proto/*.proto ./proto/
# Numeric, so a pod's runAsNonRoot can verify it (the image's "node" user has uid 1000).
USER 1000:1000
EXPOSE 8000
# For Docker and compose; Kubernetes ignores it and uses the Deployment's probes. Node, because there is no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "build/scripts/image/healthcheck.js"]
# Exec form: node is PID 1 and receives SIGTERM itself, then drains in-flight requests.
STOPSIGNAL SIGTERM
CMD ["node", "build/service/main.js"]
