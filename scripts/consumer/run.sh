#!/usr/bin/env bash
# The consumer test: install the packages the way a user would, from the packed
# tarballs only, into fresh apps in a temporary folder outside the workspace,
# with an `effect` older than the one this repository pins (3.22.2: the lowest
# our peer ranges accept), and their peer dependencies from the registry. Then:
#   1. type-check an app on core + sql (strict, nodenext), and with bundler resolution;
#   2. run the quickstart and a Postgres publish → deliver round trip (own schema, dropped);
#   3. check `npm ls effect` finds exactly one copy;
#   4. run the installed `outbox` binary: `outbox --help`, `outbox demo` (50 orders, to keep it short);
#   5. verify a webhook signature in an app that depends on @effect-outbox/webhook and
#      effect only (its one dependency, core, comes from its tarball through `overrides`
#      since it is not published: no runner, broker client, database driver or platform).
# Needs PostgreSQL on 127.0.0.1:5432 (database `test`), or DATABASE_URL.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
app_effect=3.22.2
typescript=$(node -p "require('$root/package.json').devDependencies.typescript")
types_node=$(node -p "require('$root/package.json').devDependencies['@types/node']")
types_pg=$(node -p "require('$root/packages/sql/package.json').devDependencies['@types/pg']")

work="$(mktemp -d "${TMPDIR:-/tmp}/outbox-consumer.XXXXXX")"
case "$work/" in "$root/"*) echo "the temporary folder must be outside the workspace" >&2; exit 1 ;; esac
trap 'rm -rf "$work"' EXIT
started=$SECONDS
step() { printf '\n-- consumer (%3d s): %s\n' "$((SECONDS - started))" "$*"; }
npm_install() { npm install --no-fund --no-audit --loglevel=error "$@"; }

step "pack"
node "$root/scripts/pack.mjs" "$work/tarballs" >/dev/null
tgz() { echo "file:$work/tarballs/effect-outbox-$1-$(node -p "require('$root/packages/$1/package.json').version").tgz"; }

step "app: install core, sql, the runner and their peers (effect $app_effect)"
mkdir "$work/app"
cp "$here/roundtrip.ts" "$here/subpaths.ts" "$here/tsconfig.nodenext.json" "$here/tsconfig.bundler.json" "$work/app/"
cp "$root/packages/core/examples/quickstart.ts" "$work/app/quickstart.ts"
cat >"$work/app/package.json" <<JSON
{
  "name": "outbox-consumer-app",
  "private": true,
  "type": "module",
  "dependencies": {
    "@effect-outbox/core": "$(tgz core)",
    "@effect-outbox/sql": "$(tgz sql)",
    "@effect-outbox/pglite": "$(tgz pglite)",
    "@effect-outbox/nats": "$(tgz nats)",
    "@effect-outbox/amqp": "$(tgz amqp)",
    "@effect-outbox/redis": "$(tgz redis)",
    "@effect-outbox/webhook": "$(tgz webhook)",
    "@effect-outbox/node": "$(tgz node)",
    "effect": "$app_effect",
    "@effect/platform": "^0.97.2",
    "@effect/sql": "^0.52.1",
    "@effect/sql-pg": "^0.53.0",
    "@effect/experimental": "^0.61.1"
  },
  "devDependencies": {
    "typescript": "$typescript",
    "@types/node": "$types_node",
    "@types/pg": "$types_pg"
  }
}
JSON
(cd "$work/app" && npm_install)

cd "$work/app"
step "1. type-check (strict, nodenext) and build"
npx --no-install tsc -p tsconfig.nodenext.json
step "1. type-check (bundler resolution; our declarations checked too: skipLibCheck off)"
npx --no-install tsc -p tsconfig.bundler.json

step "2. the quickstart"
node dist/quickstart.js
step "2. Postgres publish → deliver"
OUTBOX_SCHEMA="consumer_$$_$RANDOM" node dist/roundtrip.js

step "3. one copy of effect (and of core)"
npm ls effect --all
copies=$(npm ls effect --all --parseable | sort -u | wc -l)
version=$(node -p "require('effect/package.json').version")
if [ "$copies" -ne 1 ] || [ "$version" != "$app_effect" ]; then
  echo "expected one copy of effect ($app_effect), found $copies (top level: $version):" >&2
  npm ls effect --all --parseable >&2
  exit 1
fi
if [ "$(npm ls @effect-outbox/core --all --parseable | sort -u | wc -l)" -ne 1 ]; then
  echo "expected one copy of @effect-outbox/core:" >&2
  npm ls @effect-outbox/core --all >&2
  exit 1
fi

step "4. the outbox binary"
npx --no-install outbox --help >/dev/null
npx --no-install outbox demo --messages 50 >"$work/demo.log" 2>&1 || { cat "$work/demo.log"; exit 1; }
tail -n 6 "$work/demo.log"

step "5. a webhook receiver with only @effect-outbox/webhook and effect"
mkdir "$work/receiver"
cp "$here/verify.ts" "$here/tsconfig.webhook.json" "$work/receiver/"
cat >"$work/receiver/package.json" <<JSON
{
  "name": "outbox-consumer-receiver",
  "private": true,
  "type": "module",
  "dependencies": {
    "@effect-outbox/webhook": "$(tgz webhook)",
    "effect": "$app_effect"
  },
  "overrides": {
    "@effect-outbox/core": "$(tgz core)"
  },
  "devDependencies": {
    "typescript": "$typescript",
    "@types/node": "$types_node"
  }
}
JSON
cd "$work/receiver"
npm_install
installed=$(ls node_modules/@effect-outbox | tr '\n' ' ')
others=$(ls node_modules | grep -Ev '^(@effect-outbox|effect|@standard-schema|fast-check|pure-rand|typescript|@types|undici-types|\.bin|\.package-lock\.json)$' | tr '\n' ' ' || true)
if [ "$installed" != "core webhook " ] || [ -n "$others" ]; then
  echo "the receiver should need only @effect-outbox/webhook (and core) and effect; installed: $installed $others" >&2
  exit 1
fi
npx --no-install tsc -p tsconfig.webhook.json
node dist/verify.js

step "passed"
