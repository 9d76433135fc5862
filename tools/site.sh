#!/usr/bin/env bash
# Builds the console's browser assets for release into target/site/pkg
# without cargo-leptos (which takes about 12 minutes to install): the WASM
# with cargo in its size-tuned profile, the JavaScript glue with the
# wasm-bindgen CLI (the version Cargo.lock pins), wasm-opt from
# tools/node_modules, and the style sheet copied as it is. The server
# binary finds them under LEPTOS_SITE_ROOT (default target/site) with the
# names cargo-leptos would give them, so both builds serve the same page.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
site=target/site
pkg=$site/pkg
wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm

cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
mkdir -p "$pkg"
wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name postback "$wasm"
# The page loads pkg/postback.wasm (leptos drops the "_bg" when
# LEPTOS_OUTPUT_NAME is set, as .cargo/config.toml does). wasm-opt writes
# it, with the same features as cargo-leptos's wasm-opt-features in
# Cargo.toml.
tools/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-reference-types --enable-sign-ext --enable-mutable-globals --enable-multivalue \
  -o "$pkg/postback.wasm" "$pkg/postback_bg.wasm"
rm "$pkg/postback_bg.wasm"
cp style/main.css "$pkg/postback.css"
cp -R public/. "$site/"
echo "==> console assets in $pkg"
