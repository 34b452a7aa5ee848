#!/usr/bin/env bash
# Builds auth-runtime with each combination of its cargo features and lints it (clippy with
# -D warnings on auth-runtime itself): a token-only app (no default features) must build
# neither sqlx nor argon2, and every backend must stand on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

combos=(
  ""                   # tokens only: verification, sessions through your own store traits
  "sqlite"             # + SqlStore on SQLite
  "postgres"           # + SqlStore on PostgreSQL
  "accounts"           # + accounts, passwords, API keys, built-in routes (your own stores)
  "accounts,sqlite"
  "accounts,postgres"
  "redis,postgres"     # redis implies accounts
  "federation"         # + external issuers' tokens (JWKS over HTTP/HTTPS), tokens only
  "federation,accounts"
)
for features in "${combos[@]}"; do
  echo "features: [${features}]"
  cargo clippy -q -p auth-runtime --no-default-features --features "${features}" -- -D warnings
done

# The token-only build pulls in neither the SQL driver, the password hash nor TLS.
if cargo tree -p auth-runtime --no-default-features -e normal | grep -Eq '^[^a-z]*(sqlx|argon2|redis|tokio-rustls|webpki-roots) '; then
  echo "a token-only build depends on sqlx, argon2, redis or rustls" >&2
  exit 1
fi
