#!/usr/bin/env bash
# make e2e-moodle: set up (or reuse) a real Moodle 5.0.6 and Steun behind TLS, run the journey,
# write var/e2e-moodle/report/summary.md and summary.json, stop what it started.
# Exit code: non-zero when any step did not pass.
set -uo pipefail
source "$(dirname "$0")/env.sh"
# One run at a time on a machine: the ports (and /etc/hosts names) are the same for every
# worktree. A second run waits here instead of colliding.
exec 9>/tmp/steun-e2e-moodle.lock
if ! flock -n 9; then log "another e2e-moodle run holds /tmp/steun-e2e-moodle.lock; waiting"; flock 9; fi
T0=$(date +%s)
"$E2E_HERE/setup.sh" || { log "setup failed"; exit 2; }
T_SETUP=$(( $(date +%s) - T0 ))
log "setup: ${T_SETUP} s"

mkdir -p "$E2E_VAR/dist"
# The plain build; the operator downloads Moodle's keyed copy from /lti/admin (step a-package).
"$VENV_BIN/python" "$E2E_ROOT/build_scorm.py" --out "$E2E_VAR/dist" --standard scorm12 \
  >"$LOG_DIR/build_scorm.log" 2>&1 \
  || { cat "$LOG_DIR/build_scorm.log"; exit 2; }

cleanup() { "$E2E_HERE/services.sh" stop; }
trap cleanup EXIT
"$E2E_HERE/services.sh" reset
"$E2E_HERE/services.sh" start || { log "services did not start; logs in $LOG_DIR"; exit 2; }
T_READY=$(( $(date +%s) - T0 ))
log "services up after ${T_READY} s (Steun worker class: ${E2E_STEUN_WORKER_CLASS:-steun serve default})"

steun_env
export E2E_VAR E2E_HERE MOODLE_URL STEUN_URL MOODLE_HOST MOODLE_ADMIN_PASS VENV_BIN MOODLE_PG_PORT \
  MOODLE_DIR BROWSER_HOME
"$VENV_BIN/python" "$E2E_HERE/journey.py"
rc=$?
WALL=$(( $(date +%s) - T0 ))
"$VENV_BIN/python" - "$REPORT_DIR" "$WALL" "$T_SETUP" "${E2E_STEUN_WORKER_CLASS:-default}" <<'PY'
import json, sys
from pathlib import Path
report, wall, setup, worker = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
md = report / "summary.md"
lines = md.read_text().rstrip("\n").split("\n")
lines.insert(len(lines) - 1, f"Wall time: {wall} s (of which set-up {setup} s); Steun gunicorn worker class: {worker}.\n")
md.write_text("\n".join(lines) + "\n")
data = json.loads((report / "summary.json").read_text())
data.update(wall_seconds=wall, setup_seconds=setup, worker_class=worker)
(report / "summary.json").write_text(json.dumps(data, indent=1))
PY
log "wall time: ${WALL} s (set-up ${T_SETUP} s). Report: $REPORT_DIR/summary.md"
exit $rc
