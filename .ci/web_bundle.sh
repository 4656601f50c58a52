#!/usr/bin/env bash
# The browser app's committed bundle (web/dist/, compiled into kezd) must be exactly what web/'s
# sources build: same sources and lockfile, same bytes. Rebuilds into a temporary directory
# and compares; then reports the JavaScript budget (at most 150 KB gzipped, WebAssembly
# counted apart). Needs Node.js 20 and npm; installs web/'s packages with `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund --loglevel=error
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx vite build --logLevel warn --outDir "$out" --emptyOutDir
if ! diff -r dist "$out"; then
    echo "web/dist differs from what web/'s sources build: run 'npm run build' in web/ and commit web/dist" >&2
    exit 1
fi
node tests/budget.mjs dist
