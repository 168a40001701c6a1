#!/usr/bin/env bash
# Starts a Docker engine when none answers, and stops only the one it started.
#
#   bash scripts/image/docker-engine.sh start   # no-op when an engine already answers
#   bash scripts/image/docker-engine.sh stop    # stops the dockerd that `start` launched, nothing else
#
# For machines where dockerd is installed (Debian: docker.io) but not run by systemd, as on CI here. Needs root.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/image/docker-cli.sh
. "$here/docker-cli.sh"

state=${DOCKER_ENGINE_STATE:-/run/pyramidnet-k8s}
pidfile="$state/dockerd.pid"
log="$state/dockerd.log"

case "${1:-}" in
  start)
    if "$DOCKER_CLI" version >/dev/null 2>&1; then
      echo "docker-engine: an engine already answers; not starting one"
      exit 0
    fi
    command -v dockerd >/dev/null || { echo "docker-engine: no dockerd (apt-get install docker.io)" >&2; exit 1; }
    [ "$(id -u)" -eq 0 ] || { echo "docker-engine: starting dockerd needs root" >&2; exit 1; }
    mkdir -p "$state"
    # setsid: the engine outlives this script, and a Ctrl-C in the caller's terminal does not reach it.
    setsid dockerd --storage-driver=overlay2 >"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 1 120); do
      if "$DOCKER_CLI" version >/dev/null 2>&1; then
        echo "docker-engine: dockerd $(cat "$pidfile") answers ($("$DOCKER_CLI" version --format '{{.Server.Version}}'), log $log)"
        exit 0
      fi
      kill -0 "$(cat "$pidfile")" 2>/dev/null || break
      sleep 0.5
    done
    echo "docker-engine: dockerd did not come up:" >&2
    tail -20 "$log" >&2
    exit 1
    ;;
  stop)
    [ -f "$pidfile" ] || { echo "docker-engine: this script started no engine; nothing to stop"; exit 0; }
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then echo "docker-engine: dockerd $pid ignored SIGTERM for 30 s" >&2; exit 1; fi
      echo "docker-engine: stopped dockerd $pid"
    fi
    rm -f "$pidfile"
    ;;
  *)
    echo "usage: docker-engine.sh start|stop" >&2
    exit 2
    ;;
esac
