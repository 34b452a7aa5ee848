#!/usr/bin/env bash
# Makes sure the services the tests need are up: PostgreSQL on 127.0.0.1:5432 with trust auth
# for local TCP connections and a database `test` (the store and server tests create a fresh
# database per test there and drop it afterwards), and Redis on 127.0.0.1:6379 (the throttle
# tests use a fresh key prefix per test). Installs either from the distribution's packages when
# it is missing. Idempotent; prints what it does.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "services: installing PostgreSQL (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  # The tests connect as `postgres` over TCP without a password.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  { echo "host all all 127.0.0.1/32 trust"; cat "$hba"; } > "$hba.new" && mv "$hba.new" "$hba"
fi

if ! pg_up; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "services: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }

if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname = 'test'" | grep -q 1; then
  echo "services: creating database test"
  createdb -h 127.0.0.1 -U postgres test
fi
echo "services: PostgreSQL ready on 127.0.0.1:5432"

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "services: installing Redis (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server redis-tools >/dev/null
fi

if ! redis_up; then
  echo "services: starting Redis"
  # In memory only: the tests need nothing kept on disk.
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no \
    --logfile /tmp/redis-auth-tests.log
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
fi
redis_up || { echo "services: Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
echo "services: Redis ready on 127.0.0.1:6379"
