#!/usr/bin/env bash
# make bench: the load comparison of issue 5 (upstream direct, bare
# httputil.ReverseProxy, gatehouse with 10,000 keys), then memory per key and
# start-up time at 1,000,000 keys. Pass SOAK=60s for the soak test.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./bench/load -duration "${DURATION:-5s}" -rounds "${ROUNDS:-3}" -workers "${WORKERS:-32}" -keys "${KEYS:-10000}" -soak "${SOAK:-0}"
echo
go run ./bench/load -startup-keys "${STARTUP_KEYS:-1000000}"
