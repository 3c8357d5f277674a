#!/usr/bin/env bash
# Installs (through apt) and starts a local PostgreSQL server for the PostgreSQL tests, and prints the
# connection string the tests read from CARDGATEWAY_TEST_POSTGRES. Idempotent.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
if [ "$status" != "online" ]; then
  pg_ctlcluster "$version" "$cluster" start >&2
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 1; done
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
runuser -u postgres -- psql -q -p "$port" -v ON_ERROR_STOP=1 >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cardgateway') THEN
    CREATE ROLE cardgateway LOGIN CREATEDB;
  END IF;
END \$\$;
ALTER ROLE cardgateway PASSWORD '$password';
SQL
runuser -u postgres -- psql -q -p "$port" -tc "SELECT 1 FROM pg_database WHERE datname = 'cardgateway'" | grep -q 1 \
  || runuser -u postgres -- createdb -p "$port" -O cardgateway cardgateway >&2
echo "Host=127.0.0.1;Port=$port;Username=cardgateway;Password=$password;Database=cardgateway"
