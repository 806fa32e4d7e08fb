# Shared settings of the real-Moodle end-to-end check (sourced by the other scripts).
# Every value can be overridden from the environment.
E2E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
E2E_VAR="${E2E_VAR:-$E2E_ROOT/var/e2e-moodle}"
E2E_HERE="$E2E_ROOT/scripts/e2e_moodle"

# Two sites: Moodle and Steun, each behind the same Caddy with certificates from our own CA.
MOODLE_HOST="${MOODLE_HOST:-moodle.school.test}"
STEUN_HOST_NAME="${STEUN_HOST_NAME:-steun.tool.test}"
MOODLE_HTTPS_PORT="${MOODLE_HTTPS_PORT:-18443}"
STEUN_HTTPS_PORT="${STEUN_HTTPS_PORT:-19443}"
# php -S listens on another loopback address with the SAME port as Moodle's https URL: Moodle
# compares the port it is served on with its wwwroot and does not read X-Forwarded-Port.
MOODLE_PHP_ADDR="${MOODLE_PHP_ADDR:-127.0.0.2}"
MOODLE_PG_PORT="${MOODLE_PG_PORT:-55480}"
STEUN_APP_PORT="${STEUN_APP_PORT:-18000}"
STEUN_LRS_PORT="${STEUN_LRS_PORT:-18300}"
MOODLE_URL="https://$MOODLE_HOST:$MOODLE_HTTPS_PORT"
STEUN_URL="https://$STEUN_HOST_NAME:$STEUN_HTTPS_PORT"

MOODLE_COMMIT="${MOODLE_COMMIT:-59bd12a1}"
MOODLE_DIR="$E2E_VAR/moodle"
MOODLE_DATA="$E2E_VAR/moodledata"
MOODLE_ADMIN_PASS="${MOODLE_ADMIN_PASS:-E2e-Admin-1!}"
PG_DIR="$E2E_VAR/pg/data"
PG_RUN="$E2E_VAR/pg/run"
TLS_DIR="$E2E_VAR/tls"
CA_BUNDLE="$TLS_DIR/bundle.pem"
PHP_INI_DIR_E2E="$E2E_VAR/php"
LOG_DIR="$E2E_VAR/log"
RUN_DIR="$E2E_VAR/run"
STAMPS="$E2E_VAR/stamps"
REPORT_DIR="$E2E_VAR/report"
BROWSER_HOME="$E2E_VAR/browser-home"
STEUN_DATA="$E2E_VAR/steun"
VENV_BIN="$E2E_ROOT/.venv/bin"

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
export PHP_INI_SCAN_DIR=":$PHP_INI_DIR_E2E"

# Steun's settings for this check (see .env.example).
steun_env() {
  export STEUN_DATA_DIR="$STEUN_DATA"
  export STEUN_BASE_URL="$STEUN_URL"
  export STEUN_PACKAGES_DIR="$E2E_VAR/dist"   # the plain build that /lti/admin hands out keyed
  export STEUN_HOST=127.0.0.1
  export STEUN_PORT="$STEUN_APP_PORT"
  export STEUN_PROXY_HOPS=1
  export STEUN_LRS_SERVER__HOST=127.0.0.1
  export STEUN_LRS_SERVER__PORT="$STEUN_LRS_PORT"
  export STEUN_LRS__ENDPOINT="http://127.0.0.1:$STEUN_LRS_PORT/xapi/"
  # Moodle runs on this machine: its configuration URL resolves to 127.0.0.1 (loopback).
  export STEUN_REGISTRATION_ALLOW_PRIVATE_ADDRESSES=true
  export STEUN_LOG_LEVEL="${STEUN_LOG_LEVEL:-INFO}"
  # Outgoing https (registration, Moodle's JWKS and token endpoint) trusts our CA.
  export REQUESTS_CA_BUNDLE="$CA_BUNDLE"
  export SSL_CERT_FILE="$CA_BUNDLE"
}

log() { printf '[e2e-moodle %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# The postgres user must pass through the folders above Moodle's cluster. Steun's own data dir
# (var/, when `make demo` ran in this checkout) is 0700: add o+x (pass, not list) to every folder
# above $E2E_VAR. Steun's secrets in var/ stay 0600 files. Called before initdb and pg_ctl start.
let_postgres_through() {
  local dir
  dir="$(dirname "$E2E_VAR")"
  while [ "$dir" != "/" ]; do
    chmod o+x "$dir" 2>/dev/null || true
    dir="$(dirname "$dir")"
  done
}
