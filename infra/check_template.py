#!/usr/bin/env python3
"""Checks infra/template.yaml against the code, so the two cannot drift:

- every function crate under functions/ is deployed, built from its own binary;
- the HTTP routes of each function (its `ROUTES` constant, which a unit test checks against its
  router) are exactly the routes the template gives it, and no other function has routes;
- every environment variable the code of a function reads (its crate and the workspace crates it
  depends on) is set for it, except the local stack's endpoint overrides;
- the table's indexes (names, keys, projections) are those of shared/store/src/schema.rs, and
  the index throttle alarm watches each of them.

Exits 1 naming each mismatch."""
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Read by the store only when set, to point at DynamoDB Local and SeaweedFS.
LOCAL_ONLY = {"VERDICT_DYNAMODB_ENDPOINT", "VERDICT_S3_ENDPOINT"}
# Read only by the store's test-support build (shared/store/src/calls.rs), never deployed.
TEST_ONLY = {"VERDICT_AWS_CALLS", "VERDICT_AWS_CALLS_FUNCTION"}

errors = []
template, matches = decode(str(ROOT / "infra" / "template.yaml"))
if matches:
    sys.exit(f"template does not parse: {matches}")
resources = template["Resources"]
global_env = set(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))


def crate_of_binary(binary):
    for manifest in ROOT.glob("functions/*/Cargo.toml"):
        if re.search(r'\[\[bin\]\]\s*name\s*=\s*"%s"' % re.escape(binary), manifest.read_text()):
            return manifest.parent
    return None


def workspace_deps(crate, seen=None):
    """The crate and every workspace crate it depends on (normal dependencies only)."""
    seen = seen or set()
    if crate in seen:
        return seen
    seen.add(crate)
    text = (crate / "Cargo.toml").read_text()
    deps = text.split("[dependencies]", 1)[1].split("\n[", 1)[0]
    root_manifest = (ROOT / "Cargo.toml").read_text()
    for name in re.findall(r"^(verdict-[a-z-]+)", deps, re.M):
        path = re.search(r'^%s = \{ path = "([^"]+)"' % re.escape(name), root_manifest, re.M)
        local = re.search(r'^%s = \{ path = "([^"]+)"' % re.escape(name), deps, re.M)
        target = (crate / local.group(1)).resolve() if local else (ROOT / path.group(1)) if path else None
        if target:
            workspace_deps(target, seen)
    return seen


def env_vars_read(crates):
    names = set()
    for crate in crates:
        for source in (crate / "src").rglob("*.rs"):
            code = source.read_text().split("#[cfg(test)]", 1)[0]
            names |= set(re.findall(r'"(VERDICT_[A-Z0-9_]+)"', code))
    return names


def routes_in_code(crate):
    lib = crate / "src" / "lib.rs"
    block = re.search(r"pub const ROUTES: \[\(&str, &str\); \d+\] = \[(.*?)\];", lib.read_text(), re.S)
    return set(re.findall(r'\("([A-Z]+)", "([^"]+)"\)', block.group(1))) if block else set()


deployed = set()
for name, resource in resources.items():
    if resource.get("Type") != "AWS::Serverless::Function":
        continue
    binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    if resource.get("Metadata", {}).get("BuildMethod") != "rust-cargolambda" or not binary:
        errors.append(f"{name}: must be built with BuildMethod rust-cargolambda and a Binary")
        continue
    crate = crate_of_binary(binary)
    if crate is None:
        errors.append(f"{name}: no crate under functions/ has a binary named {binary!r}")
        continue
    deployed.add(crate.name)
    props = resource["Properties"]
    routes = {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in props.get("Events", {}).values()
        if e["Type"] == "HttpApi"
    }
    code_routes = routes_in_code(crate)
    for method, path in sorted(code_routes - routes):
        errors.append(f"{name}: route {method} {path} is served by {crate.name} but not in the template")
    for method, path in sorted(routes - code_routes):
        errors.append(f"{name}: route {method} {path} is in the template but {crate.name} does not serve it")
    env = global_env | set(props.get("Environment", {}).get("Variables", {}))
    for var in sorted(env_vars_read(workspace_deps(crate)) - env - LOCAL_ONLY - TEST_ONLY):
        errors.append(f"{name}: the code reads {var} but the template does not set it")

for manifest in ROOT.glob("functions/*/Cargo.toml"):
    if manifest.parent.name not in deployed:
        errors.append(f"functions/{manifest.parent.name} is not deployed by the template")

schema = (ROOT / "shared" / "store" / "src" / "schema.rs").read_text()
code_indexes = {}
for block in re.findall(r"IndexSpec \{(.*?)\}", schema, re.S):
    fields = dict(re.findall(r'(name|pk|sk): "([^"]+)"', block))
    projection = re.search(r"projection: (None|Some\(&\[(.*?)\]\)|Some\((\w+)\))", block, re.S)
    if "name" not in fields or projection is None:
        continue  # the struct's own definition
    listed = projection.group(2)
    if projection.group(3):  # a named list: `const NAME: &[&str] = &[...];`
        listed = re.search(rf"const {projection.group(3)}: &\[&str\] = &\[(.*?)\];", schema, re.S).group(1)
    if projection.group(1) == "None":
        kind, attrs = "KEYS_ONLY", set()
    elif not listed.strip():
        kind, attrs = "ALL", set()
    else:
        kind, attrs = "INCLUDE", set(re.findall(r'"([^"]+)"', listed))
    code_indexes[fields["name"]] = (fields["pk"], fields["sk"], kind, attrs)
table = resources["Table"]["Properties"]
template_indexes = {}
for index in table.get("GlobalSecondaryIndexes", []):
    keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
    projection = index["Projection"]
    template_indexes[index["IndexName"]] = (
        keys.get("HASH"), keys.get("RANGE"), projection["ProjectionType"],
        set(projection.get("NonKeyAttributes", [])),
    )
if code_indexes != template_indexes:
    errors.append(f"table indexes differ: code {code_indexes}, template {template_indexes}")

# The index throttle alarm watches every index.
alarm = resources.get("IndexThrottlesAlarm", {}).get("Properties", {})
watched = {
    d["Value"]
    for m in alarm.get("Metrics", [])
    for d in m.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
    if d["Name"] == "GlobalSecondaryIndexName"
}
if watched != set(code_indexes):
    errors.append(f"IndexThrottlesAlarm watches {sorted(watched)}, the table has {sorted(code_indexes)}")

for error in errors:
    print(f"infra/template.yaml: {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
