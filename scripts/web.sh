#!/usr/bin/env bash
# The dashboard's toolchain (functions/web/ui): its npm packages from the lockfile, and
# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
#
#   scripts/web.sh install   idempotent: chromium (apt) and `npm ci` when the lockfile changed
#   scripts/web.sh build     install, then the typed API client from openapi.json, the type
#                            check and the Vite build into functions/web/ui/dist (which the web
#                            function builds into its binary)
#   scripts/web.sh unit      the page's own logic with vitest
#
# The browser tests run in `make unit`, from cli/tests/dashboard.rs, against the local stack.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ui="$root/functions/web/ui"

install() {
    if ! command -v chromium >/dev/null 2>&1; then
        local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
    fi
    local stamp="$ui/node_modules/.verdict-lock"
    local lock; lock="$(sha256sum "$ui/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$lock" ]; then
        (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error >&2)
        echo "$lock" > "$stamp"
    fi
}

case "${1:-}" in
    install) install ;;
    build) install; (cd "$ui" && npm run --silent build) ;;
    unit) install; (cd "$ui" && npx vitest run) ;;
    *) echo "usage: scripts/web.sh install|build|unit" >&2; exit 2 ;;
esac
