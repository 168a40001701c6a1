#!/usr/bin/env bash
# Picks the docker client that can run BuildKit builds against this machine's engine, and exports it as
# DOCKER_CLI. Source it, or run it to print the path.
#
# A client with buildx (Docker Desktop, GitHub's runners) builds with BuildKit through buildx. Debian's engine
# (docker.io 20.10) has BuildKit built in, and its own client (/usr/bin/docker) uses it with DOCKER_BUILDKIT=1;
# a newer static client without buildx (e.g. /usr/local/bin/docker 28) refuses such builds instead.
# DOCKER_CLI set by the caller wins.
if [ -z "${DOCKER_CLI:-}" ]; then
  if docker buildx version >/dev/null 2>&1; then
    DOCKER_CLI=$(command -v docker)
  elif [ -x /usr/bin/docker ]; then
    DOCKER_CLI=/usr/bin/docker
  else
    DOCKER_CLI=$(command -v docker || echo docker)
  fi
fi
export DOCKER_CLI
export DOCKER_BUILDKIT=1
if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "$DOCKER_CLI"; fi
