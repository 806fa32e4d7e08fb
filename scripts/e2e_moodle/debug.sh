#!/usr/bin/env bash
# Development aid: start the services on the state the last run left, run some steps of the
# journey (E2E_STEPS=c-deep-link,d-wave-iframe), leave the services running.
#   bash scripts/e2e_moodle/debug.sh c-deep-link   |   bash scripts/e2e_moodle/services.sh stop
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$E2E_HERE/services.sh" start
steun_env
export E2E_VAR E2E_HERE MOODLE_URL STEUN_URL MOODLE_HOST MOODLE_ADMIN_PASS VENV_BIN MOODLE_PG_PORT \
  MOODLE_DIR BROWSER_HOME
E2E_STEPS="$1" "$VENV_BIN/python" "$E2E_HERE/journey.py"
