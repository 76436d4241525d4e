#!/usr/bin/env bash
# A local Docker engine for DockerSandbox and its tests: install (apt, as root), start, stop, status.
#
#   bash scripts/docker_engine.sh install   # apt-get install docker.io debootstrap (root + apt only)
#   bash scripts/docker_engine.sh start     # install if needed, start dockerd, wait until `docker info` answers
#   bash scripts/docker_engine.sh stop      # stop the dockerd this script started (never one it did not start)
#   bash scripts/docker_engine.sh status    # exit 0 iff an engine answers
#
# dockerd runs with no bridge network at all (--bridge=none --iptables=false --ip-forward=false): no docker0, no
# private-range address, no NAT rules; sandboxes run with `--network none` and see only `lo`.
# Environment: AGENTGYM_DOCKERD_LOG (default /var/log/agentgym-dockerd.log), AGENTGYM_DOCKERD_WAIT_S (default 60).
set -euo pipefail

LOG=${AGENTGYM_DOCKERD_LOG:-/var/log/agentgym-dockerd.log}
WAIT_S=${AGENTGYM_DOCKERD_WAIT_S:-60}
PIDFILE=/var/run/agentgym-dockerd.pid
DOCKERD_FLAGS=(--bridge=none --iptables=false --ip-forward=false)

answers() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

install() {
  if command -v dockerd >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "docker_engine: dockerd is not installed and this is not root with apt; the Docker tests will skip" >&2
    return 1
  fi
  echo "docker_engine: apt-get install docker.io debootstrap"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap) >/dev/null
}

start() {
  if answers; then
    echo "docker_engine: an engine already answers; leaving it as it is"
    return 0
  fi
  install
  if [ "$(id -u)" != 0 ]; then
    echo "docker_engine: starting dockerd needs root; the Docker tests will skip" >&2
    return 1
  fi
  mkdir -p "$(dirname "$LOG")"
  echo "docker_engine: starting dockerd ${DOCKERD_FLAGS[*]} (log: $LOG)"
  setsid nohup dockerd "${DOCKERD_FLAGS[@]}" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local waited=0
  until answers; do
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "docker_engine: dockerd exited; last lines of $LOG:" >&2
      tail -n 20 "$LOG" >&2
      rm -f "$PIDFILE"
      return 1
    fi
    if [ "$waited" -ge "$WAIT_S" ]; then
      echo "docker_engine: no answer from dockerd after ${WAIT_S} s; stopping it (log: $LOG)" >&2
      stop
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "docker_engine: engine ready after ${waited} s ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
}

stop() {
  if [ ! -f "$PIDFILE" ]; then
    echo "docker_engine: no dockerd started by this script; nothing to stop"
    return 0
  fi
  local pid
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    # dockerd stops its containers and its own containerd on SIGTERM.
    kill -TERM "$pid"
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "docker_engine: dockerd $pid ignored SIGTERM for 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDFILE"
  echo "docker_engine: stopped"
}

status() {
  if answers; then
    echo "docker_engine: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  else
    echo "docker_engine: no engine answers"
    return 1
  fi
}

case "${1:-}" in
  install | start | stop | status) "$1" ;;
  *)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac
