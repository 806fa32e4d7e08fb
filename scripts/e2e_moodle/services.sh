#!/usr/bin/env bash
# Start, stop and reset the services of the real-Moodle check. Only processes this script started
# (their pid files under var/e2e-moodle/run/) are ever stopped.
#   services.sh start | stop | start-pg | stop-pg | reset
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$RUN_DIR" "$LOG_DIR"

pg_running() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; }
start_pg() {
  pg_running && return 0
  let_postgres_through
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$E2E_VAR/pg/postgres.log" -w -t 60 \
    -o "-p $MOODLE_PG_PORT -k $PG_RUN -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null
}
stop_pg() { pg_running && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null || true; }

alive() { [ -f "$RUN_DIR/$1.pid" ] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }
spawn() {  # name, command...
  local name=$1; shift
  alive "$name" && return 0
  setsid "$@" >"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}
stop_one() {
  local name=$1
  if alive "$name"; then
    local pid; pid=$(cat "$RUN_DIR/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$name.pid"
}
wait_url() {  # url, seconds
  local url=$1 limit=${2:-60}
  for _ in $(seq 1 $((limit * 4))); do
    curl -s -o /dev/null --cacert "$CA_BUNDLE" --max-time 5 "$url" && return 0
    sleep 0.25
  done
  echo "not answering: $url" >&2; return 1
}

start_all() {
  start_pg
  spawn moodle-php env PHP_CLI_SERVER_WORKERS=4 php -S "$MOODLE_PHP_ADDR:$MOODLE_HTTPS_PORT" -t "$MOODLE_DIR"
  spawn caddy env XDG_DATA_HOME="$E2E_VAR/caddy" XDG_CONFIG_HOME="$E2E_VAR/caddy" HOME="$E2E_VAR/caddy" \
    caddy run --config "$E2E_VAR/caddy/Caddyfile" --adapter caddyfile
  steun_env
  mkdir -p "$STEUN_DATA" "$E2E_VAR/steun-home"
  # gunicorn 27 puts a control socket in $HOME/.gunicorn/: give this check's servers their own.
  export HOME="$E2E_VAR/steun-home"
  spawn steun-lrs "$VENV_BIN/steun" lrs serve
  wait_url "http://127.0.0.1:$STEUN_LRS_PORT/" 60  # first: it creates the shared secrets
  if [ -n "${E2E_STEUN_WORKER_CLASS:-}" ]; then
    # Observation only: the same app under another gunicorn worker class (see steun_serve.py).
    spawn steun "$VENV_BIN/python" "$E2E_HERE/steun_serve.py" "$E2E_STEUN_WORKER_CLASS"
  else
    spawn steun "$VENV_BIN/steun" serve
  fi
  wait_url "$STEUN_URL/healthz" 90
  wait_url "$MOODLE_URL/login/index.php" 60
}
stop_all() {
  for name in steun steun-lrs caddy moodle-php; do stop_one "$name"; done
  stop_pg
}
reset_state() {
  # Every journey starts from the freshly installed Moodle and an empty Steun.
  stop_one moodle-php; stop_one steun; stop_one steun-lrs
  start_pg
  local psql=("$PG_BIN/psql" -h 127.0.0.1 -p "$MOODLE_PG_PORT" -U postgres -qAt)
  "${psql[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname='moodle' AND pid<>pg_backend_pid()" >/dev/null
  "${psql[@]}" -c "DROP DATABASE IF EXISTS moodle" -c "CREATE DATABASE moodle TEMPLATE moodle_installed OWNER moodle"
  rm -rf "$MOODLE_DATA"; cp -a "$E2E_VAR/moodledata.installed" "$MOODLE_DATA"
  rm -rf "$STEUN_DATA"
}

case "${1:-}" in
  start) start_all ;;
  stop) stop_all ;;
  start-pg) start_pg ;;
  stop-pg) stop_pg ;;
  reset) reset_state ;;
  *) echo "usage: $0 start|stop|start-pg|stop-pg|reset" >&2; exit 2 ;;
esac
