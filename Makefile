# The two commands of the README. Both install what is missing first.
#
#   make run    build and serve the console on SQLite in ./data/postback.db
#   make test   fmt, clippy, every Rust test, the Playwright suite, the
#               API fuzz run
#
# PostgreSQL: set POSTBACK_TEST_POSTGRES_URL (.ci/run does) and the store
# conformance suite and the Playwright suite run against it too.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export CARGO_TERM_COLOR ?= never

.PHONY: run test tools lint rust-test e2e e2e-sqlite e2e-postgres build fuzz

# The release build without cargo-leptos: the server with cargo, the
# console's assets with tools/site.sh.
run:
	tools/install.sh release
	cargo build --release -p server
	tools/site.sh
	mkdir -p data
	./target/release/postback serve

test: tools lint rust-test e2e fuzz
	@echo "make test: all checks passed"

tools:
	tools/install.sh test

lint:
	cargo fmt --all --check
	cargo clippy -p engine -p server --all-targets --features engine/testing -- -D warnings
	cargo clippy -p engine --no-default-features -- -D warnings
	cargo clippy -p app --features ssr --lib --tests -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

# PostgreSQL has no key file beside it: the tests on it (and the
# Playwright run on it) seal secrets with this test-only key. SQLite runs
# of the binary leave it out and make their key file.
TEST_SECRET_KEY := 7e57000000000000000000000000000000000000000000000000000000007e57
rust-test e2e-postgres: export POSTBACK_SECRET_KEY = $(TEST_SECRET_KEY)

rust-test:
	cargo test -p engine -p server --features engine/testing
	cargo test -p engine --no-default-features --lib
	cargo test -p app --features ssr --lib

build:
	cargo leptos build

# The REST API fuzzed from its OpenAPI document (schemathesis, 2,000+
# cases, no 5xx), in a network namespace with only loopback.
fuzz: build
	tools/fuzz-api.sh

e2e: build e2e-sqlite e2e-postgres

e2e-sqlite:
	cd end2end && npx playwright test

# A fresh database for this run; skipped (outside CI) when none is given.
e2e-postgres:
	@if [ -z "$${POSTBACK_TEST_POSTGRES_URL:-}" ]; then \
	  echo "e2e-postgres skipped: POSTBACK_TEST_POSTGRES_URL is not set"; \
	  if [ -n "$${CI:-}" ]; then echo "CI must run the PostgreSQL suite" >&2; exit 1; fi; \
	else \
	  db=pbe2e_$$(date +%s)_$$$$; \
	  psql -q "$$POSTBACK_TEST_POSTGRES_URL" -c "CREATE DATABASE $$db"; \
	  cd end2end && E2E_PORT=3211 E2E_DATABASE_URL="$${POSTBACK_TEST_POSTGRES_URL%/*}/$$db" npx playwright test; \
	fi
