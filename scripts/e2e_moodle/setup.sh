#!/usr/bin/env bash
# Set up everything the real-Moodle check needs, from nothing; a second run reuses it all.
# State lives under var/e2e-moodle/ (git-ignored). See docs/development.md.
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$E2E_VAR" "$LOG_DIR" "$RUN_DIR" "$STAMPS" "$REPORT_DIR"
chmod 755 "$E2E_VAR"
let_postgres_through

# -- Debian packages -------------------------------------------------------------------------
APT_PACKAGES="php8.2-cli php8.2-pgsql php8.2-xml php8.2-mbstring php8.2-curl php8.2-zip php8.2-gd
  php8.2-intl php8.2-soap php8.2-opcache php8.2-readline php8.2-bcmath caddy libnss3-tools chromium
  openssl git"
missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -n "$PG_BIN" ] || missing="$missing postgresql"
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >"$LOG_DIR/apt.log"
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
# The Debian caddy package starts a system service on port 80; this check runs its own Caddy.
if systemctl is-active --quiet caddy 2>/dev/null; then systemctl stop caddy || true; fi

# -- Name resolution: both sites are on this machine ------------------------------------------
for name in "$MOODLE_HOST" "$STEUN_HOST_NAME"; do
  grep -qE "^127\.0\.0\.1[[:space:]].*\b$name\b" /etc/hosts || echo "127.0.0.1 $name  # steun e2e-moodle" >>/etc/hosts
done

# -- Moodle source ---------------------------------------------------------------------------
if [ ! -f "$STAMPS/moodle-src" ]; then
  rm -rf "$MOODLE_DIR"
  src="${MOODLE_SOURCE:-}"
  if [ -z "$src" ]; then
    src="$(ls -d /work/.mirror/vhackero+Moodle5/repo 2>/dev/null || true)"
  fi
  if [ -z "$src" ]; then
    src="$E2E_VAR/Moodle5.git"
    [ -d "$src" ] || git clone --bare --quiet https://github.com/vhackero/Moodle5 "$src"
  fi
  log "Moodle source: $src (commit $MOODLE_COMMIT)"
  if [ -d "$src" ] && git --git-dir="$src" rev-parse --git-dir >/dev/null 2>&1; then
    python3 "$E2E_HERE/export_moodle.py" "$src" "$MOODLE_COMMIT" "$MOODLE_DIR" >"$LOG_DIR/moodle-export.log"
  elif [ -d "$src/.git" ]; then
    python3 "$E2E_HERE/export_moodle.py" "$src/.git" "$MOODLE_COMMIT" "$MOODLE_DIR" >"$LOG_DIR/moodle-export.log"
  elif [ -d "$src" ]; then
    mkdir -p "$MOODLE_DIR" && cp -a "$src/." "$MOODLE_DIR/"
  elif [ -f "$src" ]; then
    mkdir -p "$MOODLE_DIR" && tar -xf "$src" -C "$MOODLE_DIR"
    # a tarball with one top folder: use it
    if [ ! -f "$MOODLE_DIR/version.php" ] && [ "$(ls "$MOODLE_DIR" | wc -l)" = 1 ]; then
      top="$MOODLE_DIR/$(ls "$MOODLE_DIR")"; mv "$top"/* "$top"/.[!.]* "$MOODLE_DIR"/ 2>/dev/null || true; rmdir "$top"
    fi
  else
    echo "MOODLE_SOURCE $src: not a git dir, directory or tarball" >&2; exit 2
  fi
  [ -f "$MOODLE_DIR/version.php" ] || { echo "no version.php in $MOODLE_DIR" >&2; exit 2; }
  tail -n +1 "$LOG_DIR/moodle-export.log" 2>/dev/null | head -3 || true
  grep -o "release *= *'[^']*'" "$MOODLE_DIR/version.php" >"$STAMPS/moodle-src"
fi
log "Moodle $(cat "$STAMPS/moodle-src")"

# -- TLS: our own CA, one server certificate for both names, bundles for PHP/Python, NSS for Chromium
mkdir -p "$TLS_DIR"
if [ ! -f "$TLS_DIR/ca.crt" ]; then
  log "creating the test CA"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" -days 3650 \
    -subj "/CN=Steun e2e-moodle test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  rm -f "$TLS_DIR/server.crt"
fi
if [ ! -f "$TLS_DIR/server.crt" ] || ! openssl x509 -checkend 86400 -noout -in "$TLS_DIR/server.crt" >/dev/null \
   || ! openssl x509 -noout -ext subjectAltName -in "$TLS_DIR/server.crt" | grep -q "$STEUN_HOST_NAME"; then
  log "issuing the server certificate for $MOODLE_HOST and $STEUN_HOST_NAME"
  openssl req -newkey rsa:2048 -nodes -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" \
    -subj "/CN=$STEUN_HOST_NAME" 2>/dev/null
  printf 'subjectAltName=DNS:%s,DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
    "$STEUN_HOST_NAME" "$MOODLE_HOST" >"$TLS_DIR/server.ext"
  openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
    -CAcreateserial -out "$TLS_DIR/server.crt" -days 90 -extfile "$TLS_DIR/server.ext" 2>/dev/null
fi
cat /etc/ssl/certs/ca-certificates.crt "$TLS_DIR/ca.crt" >"$CA_BUNDLE"
NSSDB="$BROWSER_HOME/.pki/nssdb"
if [ ! -f "$STAMPS/nssdb" ]; then
  rm -rf "$NSSDB"; mkdir -p "$NSSDB"
  # stdin closed: certutil would otherwise loop on a password prompt when something goes wrong
  certutil -d "sql:$NSSDB" -N --empty-password </dev/null
  certutil -d "sql:$NSSDB" -A -t "C,," -n "steun-e2e-moodle-ca" -i "$TLS_DIR/ca.crt" </dev/null
  touch "$STAMPS/nssdb"
fi

# -- PHP settings for Moodle's CLI and its server ---------------------------------------------
mkdir -p "$PHP_INI_DIR_E2E"
cat >"$PHP_INI_DIR_E2E/99-e2e-moodle.ini" <<INI
; Moodle of the Steun e2e check: trust our CA (Moodle's cURL fetches Steun's JWKS and registration)
curl.cainfo = $CA_BUNDLE
openssl.cafile = $CA_BUNDLE
max_input_vars = 5000
memory_limit = 512M
post_max_size = 64M
upload_max_filesize = 64M
opcache.enable_cli = 1
opcache.memory_consumption = 256
INI

# -- Caddy: the TLS reverse proxy in front of both -------------------------------------------
mkdir -p "$E2E_VAR/caddy"
cat >"$E2E_VAR/caddy/Caddyfile" <<CADDY
{
	admin off
	auto_https disable_redirects
}
https://$MOODLE_HOST:$MOODLE_HTTPS_PORT {
	bind 127.0.0.1
	tls $TLS_DIR/server.crt $TLS_DIR/server.key
	reverse_proxy $MOODLE_PHP_ADDR:$MOODLE_HTTPS_PORT
}
https://$STEUN_HOST_NAME:$STEUN_HTTPS_PORT {
	bind 127.0.0.1
	tls $TLS_DIR/server.crt $TLS_DIR/server.key
	reverse_proxy 127.0.0.1:$STEUN_APP_PORT {
		header_up X-Forwarded-Port $STEUN_HTTPS_PORT
	}
}
CADDY

# -- Moodle's own PostgreSQL cluster --------------------------------------------------------
if [ ! -f "$PG_DIR/PG_VERSION" ]; then
  log "initdb of Moodle's own cluster ($PG_BIN)"
  rm -rf "$E2E_VAR/pg"; mkdir -p "$PG_DIR" "$PG_RUN"; chown -R postgres:postgres "$E2E_VAR/pg"; chmod 700 "$PG_DIR"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log"
fi
"$E2E_HERE/services.sh" start-pg

# -- Moodle install (once), then a snapshot that every run starts from -------------------------
psql_e2e() { "$PG_BIN/psql" -h 127.0.0.1 -p "$MOODLE_PG_PORT" -U postgres -qAt "$@"; }
if [ ! -f "$STAMPS/moodle-installed" ]; then
  log "installing Moodle (admin/cli/install.php; takes minutes)"
  psql_e2e -c "DROP DATABASE IF EXISTS moodle" -c "DROP DATABASE IF EXISTS moodle_installed"
  psql_e2e -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='moodle') THEN CREATE ROLE moodle LOGIN PASSWORD 'moodle'; END IF; END\$\$"
  psql_e2e -c "CREATE DATABASE moodle OWNER moodle ENCODING 'UTF8' TEMPLATE template0"
  rm -rf "$MOODLE_DATA" "$MOODLE_DIR/config.php"; mkdir -p "$MOODLE_DATA"
  start=$(date +%s)
  php "$MOODLE_DIR/admin/cli/install.php" --non-interactive --agree-license --lang=en \
    --wwwroot="$MOODLE_URL" --dataroot="$MOODLE_DATA" --dbtype=pgsql --dbhost=127.0.0.1 \
    --dbport="$MOODLE_PG_PORT" --dbname=moodle --dbuser=moodle --dbpass=moodle --prefix=mdl_ \
    --fullname="Basisschool De Linde (e2e)" --shortname="De Linde" --summary="Steun e2e check" \
    --adminuser=admin --adminpass="$MOODLE_ADMIN_PASS" --adminemail=admin@school.test \
    --supportemail=admin@school.test >"$LOG_DIR/moodle-install.log" 2>&1 \
    || { tail -30 "$LOG_DIR/moodle-install.log"; exit 1; }
  log "Moodle installed in $(( $(date +%s) - start )) s"
  # Behind Caddy's TLS: Moodle is served over http by php -S, the browser sees https.
  python3 - "$MOODLE_DIR/config.php" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
extra = ("$CFG->sslproxy = true;\n$CFG->noemailever = true;\n"
         "$CFG->passwordpolicy = 0;\n")
marker = "require_once(__DIR__ . '/lib/setup.php');"
if "$CFG->sslproxy" not in text:
    text = text.replace(marker, extra + marker)
open(path, "w").write(text)
PY
  cfg() { php "$MOODLE_DIR/admin/cli/cfg.php" "$@"; }
  # Moodle's outgoing-request guard: allow this machine's hosts and Steun's https port.
  cfg --name=curlsecurityblockedhosts --set=""
  cfg --name=curlsecurityallowedport --set="$(printf '443\n80\n%s\n%s' "$STEUN_HTTPS_PORT" "$MOODLE_HTTPS_PORT")"
  cfg --name=enablecompletion --set=1
  cfg --name=cronclionly --set=1
  chmod -R a+rX "$MOODLE_DATA"
  rm -rf "$E2E_VAR/moodledata.installed"; cp -a "$MOODLE_DATA" "$E2E_VAR/moodledata.installed"
  psql_e2e -c "CREATE DATABASE moodle_installed TEMPLATE moodle OWNER moodle"
  touch "$STAMPS/moodle-installed"
fi

# -- Steun: venv, the course package ----------------------------------------------------------
if [ ! -x "$VENV_BIN/steun" ]; then (cd "$E2E_ROOT" && make --no-print-directory venv); fi
log "setup done"
