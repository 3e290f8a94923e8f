#!/usr/bin/env bash
# Install what the browser tests need: Debian's Chromium (Playwright drives it through
# executable_path; no browser download) and the npm packages the pages load.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/@stomp/stompjs ] || [ ! -d node_modules/sockjs-client ]; then
    npm ci --no-audit --no-fund --silent && touch node_modules/.installed
fi
