#!/usr/bin/env bash
# Installs what Postback needs to build (`tools/install.sh`), to build for
# release (`tools/install.sh release`: what `make run` needs) and to test
# (`tools/install.sh test`: cargo-leptos, Chromium, Playwright), skipping
# whatever is already there. Only the package registries are reachable, so
# the two cargo tools are built from their crates.io sources with the lock
# files kept here: their own lock files name versions that this toolchain
# (rustc 1.95) cannot build or the registry no longer serves.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

say() { printf '==> %s\n' "$*"; }

# Builds crate NAME at VERSION from crates.io with tools/NAME-VERSION.lock.
install_pinned() {
  local name=$1 version=$2 work
  say "installing $name $version from crates.io (once per machine; takes minutes)"
  work=$(mktemp -d)
  curl -sSfL "https://static.crates.io/crates/$name/$name-$version.crate" | tar xz -C "$work"
  cp "$here/$name-$version.lock" "$work/$name-$version/Cargo.lock"
  cargo install --locked --path "$work/$name-$version"
  rm -rf "$work"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
# The JavaScript glue of the WASM (tools/site.sh, and cargo-leptos, which
# runs the one on PATH); it must match Cargo.lock's wasm-bindgen.
[ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen 0.2.130" ] || install_pinned wasm-bindgen-cli 0.2.130

# The release build runs wasm-opt; Debian's (binaryen 108) corrupts modules
# that use reference types, so this npm one is used instead.
if [ "${1:-}" = "release" ] && [ ! -x "$here/node_modules/.bin/wasm-opt" ]; then
  say "installing binaryen (wasm-opt) from npm for the release build"
  (cd "$here" && npm ci --no-audit --no-fund)
fi

if [ "${1:-}" = "test" ]; then
  # Development and the end-to-end build use cargo-leptos; `make run` does not.
  [ "$(cargo leptos --version 2>/dev/null)" = "cargo-leptos 0.3.11" ] || install_pinned cargo-leptos 0.3.11
  if ! command -v chromium >/dev/null; then
    say "installing Chromium from Debian"
    apt-get update -qq && apt-get install -y -qq chromium
  fi
  if ! command -v psql >/dev/null; then
    say "installing the PostgreSQL client"
    apt-get update -qq && apt-get install -y -qq postgresql-client
  fi
  # The API fuzz run (tools/fuzz-api.sh): schemathesis from PyPI, and a
  # network namespace of its own (unshare, ip).
  if [ "$("$root/target/fuzz-venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version 4.32.5" ]; then
    say "installing schemathesis from PyPI for the API fuzz run"
    python3 -m venv "$root/target/fuzz-venv"
    "$root/target/fuzz-venv/bin/pip" install -q 'schemathesis==4.32.5'
  fi
  if ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
    say "installing unshare and ip"
    apt-get update -qq && apt-get install -y -qq util-linux iproute2
  fi
  if [ ! -d "$root/end2end/node_modules/@playwright/test" ]; then
    say "installing the Playwright test runner (no browser download)"
    (cd "$root/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
