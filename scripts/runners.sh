#!/usr/bin/env bash
# The real test runners whose reports the format tests read (shared/formats/tests/runners.rs):
# each is installed from its own registry, never hand-written.
#
#   scripts/runners.sh install   idempotent; Debian (catch2, googletest, testng, rspec),
#                                PyPI (pytest and plugins, xmlrunner, codecov's parser for the
#                                side-by-side benchmark) and npm (jest, vitest, mocha,
#                                playwright's test runner, cucumber-js), under .tools/runners
#
# Dart is in none of these registries: its JSON reporter is checked on the corpus samples only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.tools/runners"

debian=(catch2 libgtest-dev testng ruby-rspec)
pypi=(pytest==9.2.0 pytest-rerunfailures==16.7 pytest-json-report==1.5.0 unittest-xml-reporting==3.2.0 test-results-parser==0.5.4)
npm=(jest@29.7.0 vitest@3.2.4 mocha@11.1.0 @playwright/test@1.52.0 @cucumber/cucumber@11.2.0)

install() {
    mkdir -p "$dir"
    local missing=()
    for p in "${debian[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
    # Each .done file holds the pins it was installed with: a changed pin reinstalls.
    if [ "$(cat "$dir/venv/.done" 2>/dev/null)" != "${pypi[*]}" ]; then
        python3 -m venv "$dir/venv"
        "$dir/venv/bin/pip" install --quiet --disable-pip-version-check "${pypi[@]}" >&2
        echo "${pypi[*]}" >"$dir/venv/.done"
    fi
    if [ "$(cat "$dir/node/.done" 2>/dev/null)" != "${npm[*]}" ]; then
        mkdir -p "$dir/node"
        [ -f "$dir/node/package.json" ] || echo '{"private": true}' >"$dir/node/package.json"
        npm install --silent --no-audit --no-fund --prefix "$dir/node" "${npm[@]}" >&2
        echo "${npm[*]}" >"$dir/node/.done"
    fi
}

case "${1:-}" in
    install) install ;;
    *) echo "usage: scripts/runners.sh install" >&2; exit 2 ;;
esac
