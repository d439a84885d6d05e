#!/usr/bin/env bash
# Start/stop the development OpenID Connect identity provider (idp/server.mjs).
#   scripts/idp.sh start|stop|status|restart
# Env (passed through to the server): IDP_PORT (9000), IDP_ISSUER, IDP_STATE_DIR,
# IDP_CLIENT_SECRET, IDP_PORTAL_ORIGINS, IDP_DEMO_PASSWORD.
# Pid file /run/onestop-dev/idp.pid, log /var/log/onestop-dev/idp.log.
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
PORT="${IDP_PORT:-9000}"
PIDFILE="${IDP_PIDFILE:-/run/onestop-dev/idp.pid}"
LOGFILE="${IDP_LOGFILE:-/var/log/onestop-dev/idp.log}"
DISCOVERY="http://127.0.0.1:${PORT}/.well-known/openid-configuration"

answering() { curl -fsS --max-time 2 -o /dev/null "$DISCOVERY" 2>/dev/null; }

running_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

start() {
  if running_pid >/dev/null && answering; then
    echo "idp already running (pid $(running_pid)) on port $PORT"
    return 0
  fi
  if answering; then
    echo "idp: something else already answers on port $PORT (no pid file of ours)" >&2
    return 1
  fi
  if pid="$(running_pid)"; then  # stale: running but not answering
    echo "idp: pid $pid not answering, restarting"
    stop
  fi
  mkdir -p "$(dirname "$PIDFILE")" "$(dirname "$LOGFILE")"
  (cd "$ROOT" && node idp/genkeys.mjs)
  cd "$ROOT"
  # NODE_ENV is forced away from "production": the dev IdP runs on plain http.
  NODE_ENV=development setsid nohup node idp/server.mjs >>"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 40); do
    if answering; then
      echo "idp started (pid $(cat "$PIDFILE")) on http://127.0.0.1:${PORT}, log $LOGFILE"
      return 0
    fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.5
  done
  echo "idp failed to start; last log lines:" >&2
  tail -n 30 "$LOGFILE" >&2 || true
  stop >/dev/null 2>&1 || true
  return 1
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    echo "idp stopped (pid $pid)"
  else
    echo "idp not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  if answering; then
    echo "idp answering on http://127.0.0.1:${PORT} (pid $(running_pid || echo '?'))"
    return 0
  fi
  echo "idp not answering on port $PORT"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
