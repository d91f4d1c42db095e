#!/usr/bin/env bash
# Makes this machine ready for `npm test` (which runs this first, as its `pretest`) and for `.ci/run`.
#
# Idempotent and fast when everything is there (one check per need, about a second in all). Whatever is
# missing is installed with ONE apt-get call (as root, or with passwordless sudo), then every service that
# does not answer is started, then everything is checked again; the script fails, saying what is missing,
# if anything still is.
#
#   bash scripts/provision.sh           check, install and start what is missing
#   bash scripts/provision.sh --check   only report what is missing (exit 1 if anything is); changes nothing
#
# Environment: REDIS_URL (default redis://127.0.0.1:6379), APT_LOCK_WAIT (seconds apt-get waits for another
# apt/dpkg to release its lock, default 600), APT_DEADLINE (seconds each apt-get call may take in all,
# default 1800).
#
# Adding a need (a later issue's service or tool) is one line in the table below:
#
#   need <name> <apt packages> <installed-check> [<answering-check> <start-command>]
#
# Each check is a shell command that succeeds when the need is met (run quietly); the packages are installed
# when <installed-check> fails; <start-command> runs when <answering-check> fails, and the script then waits
# (up to START_WAIT seconds) for <answering-check> to succeed. Put anything longer than a line in a function.
set -euo pipefail

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
APT_LOCK_WAIT="${APT_LOCK_WAIT:-600}"
APT_DEADLINE="${APT_DEADLINE:-1800}"
START_WAIT="${START_WAIT:-30}"
CHECK_ONLY=0
[ "${1:-}" = "--check" ] && CHECK_ONLY=1

say() { echo "provision: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# --- how to start the services -------------------------------------------------------------------------------

redis_answers() { redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG; }
redis_start() {
  local rest host port
  rest="${REDIS_URL#*://}"
  rest="${rest##*@}"
  rest="${rest%%/*}"
  host="${rest%%:*}"
  port="${rest##*:}"
  [ "$port" = "$rest" ] && port=6379
  case "$host" in
    127.0.0.1 | localhost) ;;
    *) die "Redis at $REDIS_URL does not answer, and it is not on this machine: start it there" ;;
  esac
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null
}

pg_answers() { pg_isready -q -h 127.0.0.1 -p 5432; }
pg_start() {
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
}
# The tests use the database `test` (user postgres): ready means answering with that database there.
pg_has_test_db() {
  psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'test'" |
    grep -q 1
}
pg_ready() { pg_answers && pg_has_test_db; }
pg_prepare() {
  local deadline=$((SECONDS + START_WAIT))
  pg_answers || pg_start
  until pg_answers; do
    [ "$SECONDS" -lt "$deadline" ] || die "PostgreSQL does not answer ${START_WAIT}s after starting it"
    sleep 0.2
  done
  pg_has_test_db 2>/dev/null && return
  say "creating the database test"
  createdb -h 127.0.0.1 -p 5432 -U postgres test 2>/dev/null ||
    as_root runuser -u postgres -- createdb test
}

# --- the needs -----------------------------------------------------------------------------------------------

NAMES=()
declare -A PACKAGES INSTALLED ANSWERS START
need() {
  NAMES+=("$1")
  PACKAGES[$1]="$2"
  INSTALLED[$1]="$3"
  ANSWERS[$1]="${4:-}"
  START[$1]="${5:-}"
}

# Redis at REDIS_URL for the cluster tests, and redis-server itself: the outage tests start and stop their own.
need redis redis-server 'command -v redis-server && command -v redis-cli' redis_answers redis_start
# A real browser for the end-to-end tests (test/e2e): Debian's chromium, driven by playwright-core.
need chromium chromium '[ -x /usr/bin/chromium ]'
# PostgreSQL on 127.0.0.1:5432 with the database test (the Postgres adapter's tests, user postgres).
need postgresql postgresql 'command -v pg_isready && command -v pg_ctlcluster && ls -d /etc/postgresql/*/main' \
  pg_ready pg_prepare
# haproxy, for load-balancer tests.
need haproxy haproxy 'command -v haproxy'
# Debian's python-socketio, a non-JavaScript client.
need python3-socketio python3-socketio '/usr/bin/python3 -c "import socketio"'
# Its polling and WebSocket transports (python3-socketio does not pull them in): test/python.
need python3-requests python3-requests '/usr/bin/python3 -c "import requests"'
need python3-websocket python3-websocket '/usr/bin/python3 -c "import websocket"'
# promtool (from prometheus) checks the metrics format.
need promtool prometheus 'command -v promtool'

# --- the work ------------------------------------------------------------------------------------------------

met() { eval "$1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "needs root or passwordless sudo to run: $*"
  fi
}

apt() {
  local code=0
  as_root env DEBIAN_FRONTEND=noninteractive timeout "$APT_DEADLINE" \
    apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" -qq "$@" || code=$?
  [ "$code" = 124 ] && die "apt-get $1 did not finish within APT_DEADLINE=${APT_DEADLINE}s"
  [ "$code" = 0 ] || die "apt-get $* failed (exit $code)"
}

missing=()
for name in "${NAMES[@]}"; do
  met "${INSTALLED[$name]}" || missing+=("$name")
done

if [ "${#missing[@]}" -gt 0 ]; then
  packages=()
  for name in "${missing[@]}"; do
    read -r -a words <<<"${PACKAGES[$name]}"
    packages+=("${words[@]}")
  done
  [ "$CHECK_ONLY" = 1 ] && die "not installed: ${missing[*]} (apt packages: ${packages[*]})"
  say "installing ${packages[*]} with apt-get (waiting up to ${APT_LOCK_WAIT}s if another apt or dpkg holds its lock)"
  apt update
  apt install -y "${packages[@]}"
fi

for name in "${NAMES[@]}"; do
  check="${ANSWERS[$name]}"
  [ -n "$check" ] || continue
  met "$check" && continue
  [ "$CHECK_ONLY" = 1 ] && die "$name does not answer"
  say "starting $name"
  eval "${START[$name]}"
  deadline=$((SECONDS + START_WAIT))
  until met "$check"; do
    [ "$SECONDS" -lt "$deadline" ] || die "$name does not answer ${START_WAIT}s after starting it"
    sleep 0.2
  done
done

failed=()
for name in "${NAMES[@]}"; do
  met "${INSTALLED[$name]}" || failed+=("$name")
done
[ "${#failed[@]}" = 0 ] || die "still missing after apt-get install: ${failed[*]}"
say "ready: ${NAMES[*]}"
