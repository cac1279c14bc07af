#!/usr/bin/env python3
"""Checks the IAM policies of infra/template.yaml against the AWS calls the code really makes.

The integration tests run with VERDICT_AWS_CALLS=DIR: every store made for a function records
each distinct call it sends (shared/store/src/calls.rs), one JSON line per call under DIR. This
script reads them and, per function:

- every recorded call must be allowed by that function's policy: the IAM action the call needs
  (a transaction needs the action of each of its items), on the right resource (the table, the
  index it queried, the key prefix of the object);
- an S3 read answered 404 needs s3:ListBucket on the bucket too: without it, AWS answers a
  missing key with 403 AccessDenied, which the code would take for an error, not for "absent";
- every action a policy grants must be used by a recorded call, or be named in a comment inside
  that resource's block of the template saying why it stays.

Then, to show the check can fail, it removes each granted action that calls use, one at a
time, and expects the check to name the call that lost its permission.

Usage: check_iam.py DIR. Exits 1 naming each problem."""
import copy
import fnmatch
import json
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"

# Which template resource holds each recorded function's permissions.
FUNCTIONS = {
    "parse": "ParseFunction",
    "upload": "UploadFunction",
    "query": "QueryFunction",
    "retention": "RetentionFunction",
    "admin": "OperatorPolicy",
}

# `verdict admin init` makes the table and bucket of a local stack; on AWS the template makes
# them, so the operator needs no permission for these.
LOCAL_STACK_ONLY = {("admin", "CreateTable"), ("admin", "UpdateTimeToLive"), ("admin", "CreateBucket")}

TRANSACTION_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
S3_ACTIONS = {"GetObject": "GetObject", "HeadObject": "GetObject", "PutObject": "PutObject",
              "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
              "CompleteMultipartUpload": "PutObject", "AbortMultipartUpload": "AbortMultipartUpload",
              "DeleteObject": "DeleteObject", "DeleteObjects": "DeleteObject",
              "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket", "CreateBucket": "CreateBucket"}
BUCKET_LEVEL = {"ListBucket", "CreateBucket"}
BUCKET = r"arn:\$\{AWS::Partition\}:s3:::(\$\{Bucket\}|\$\{EnvironmentName\}-raw-\$\{AWS::AccountId\}-\$\{AWS::Region\})"


def needs(call):
    """The (action, resource) pairs one recorded call needs; resources as `table`,
    `table/index/NAME`, `bucket`, `bucket/PREFIX...`."""
    op = call["operation"]
    if call["service"] == "dynamodb":
        resource = f"table/index/{call['index']}" if call.get("index") else "table"
        if op in ("TransactWriteItems", "TransactGetItems"):
            return {(f"dynamodb:{TRANSACTION_ITEMS[item]}", resource) for item in call["items"]}
        return {(f"dynamodb:{op}", resource)}
    action = S3_ACTIONS.get(op, op)
    if action in BUCKET_LEVEL:
        pairs = {(f"s3:{action}", "bucket")}
    else:
        pairs = {(f"s3:{action}", f"bucket/{prefix}object") for prefix in call["prefixes"]}
    if action == "GetObject" and call.get("status") == 404:
        pairs.add(("s3:ListBucket", "bucket"))
    return pairs


def resource_name(value):
    """A template resource (`!GetAtt Table.Arn`, `!Sub ...`) as the names `needs` uses."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        target = target if isinstance(target, str) else ".".join(target)
        return "table" if target == "Table.Arn" else target
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"].replace("${Table.Arn}", "table")
        return re.sub(BUCKET, "bucket", text)
    return str(value)


def statements(template, resource):
    props = template["Resources"][resource]["Properties"]
    if "PolicyDocument" in props:
        return props["PolicyDocument"]["Statement"]
    return [s for policy in props.get("Policies", []) for s in policy.get("Statement", [])]


def granted(template, resource):
    """(action, resource pattern) pairs the resource's policy allows."""
    pairs = []
    for statement in statements(template, resource):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        pairs += [(a, resource_name(r)) for a in actions for r in targets]
    return pairs


def allows(grants, action, resource):
    return [(a, r) for a, r in grants if fnmatch.fnmatchcase(action, a) and fnmatch.fnmatchcase(resource, r)]


def comments_of(resource):
    """The comment lines inside a resource's block of the template."""
    text = TEMPLATE.read_text()
    block = re.search(r"^  %s:\n(.*?)(?=^  \S|\Z)" % re.escape(resource), text, re.S | re.M)
    return [line for line in block.group(1).splitlines() if line.strip().startswith("#")] if block else []


def check(template, calls):
    """Every problem found, as text."""
    problems = []
    for function, resource in FUNCTIONS.items():
        own = [c for c in calls if c["function"] == function]
        if not own:
            problems.append(f"{function}: no AWS call was recorded (did the tests run with VERDICT_AWS_CALLS?)")
            continue
        if resource not in template["Resources"]:
            problems.append(f"{function}: the template has no {resource}")
            continue
        grants = granted(template, resource)
        used = set()
        for call in own:
            if (function, call["operation"]) in LOCAL_STACK_ONLY:
                continue
            for action, target in sorted(needs(call)):
                matching = allows(grants, action, target)
                if not matching:
                    problems.append(
                        f"{function}: {call['service']} {call['operation']} needs {action} on {target}, "
                        f"which {resource}'s policy does not allow")
                used.update(matching)
        comments = " ".join(comments_of(resource))
        for action, target in grants:
            if (action, target) not in used and action not in comments:
                problems.append(
                    f"{function}: {resource} grants {action} on {target}, which no recorded call used "
                    f"(remove it, or say in a comment in {resource} why it stays)")
    return problems


def without(template, resource, action):
    """The template with `action` removed from `resource`'s policy."""
    changed = copy.deepcopy(template)
    for statement in statements(changed, resource):
        if isinstance(statement.get("Action"), list) and action in statement["Action"]:
            statement["Action"] = [a for a in statement["Action"] if a != action]
        elif statement.get("Action") == action:
            statement["Action"] = []
    return changed


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    calls = [json.loads(line) for path in sorted(pathlib.Path(sys.argv[1]).glob("*.jsonl"))
             for line in path.read_text().splitlines() if line.strip()]
    template, matches = decode(str(TEMPLATE))
    if matches:
        sys.exit(f"template does not parse: {matches}")
    problems = check(template, calls)
    if not problems:
        # The check must catch the loss of any permission the code uses.
        for function, resource in FUNCTIONS.items():
            needed = {n for c in calls if c["function"] == function
                      and (function, c["operation"]) not in LOCAL_STACK_ONLY for n in needs(c)}
            grants = granted(template, resource)
            for action in sorted({a for n in needed for a, _ in allows(grants, *n)}):
                if not check(without(template, resource, action), calls):
                    problems.append(f"{function}: removing {action} from {resource} went unnoticed")
    for problem in dict.fromkeys(problems):
        print(f"infra/template.yaml: {problem}", file=sys.stderr)
    if not problems:
        kinds = {(c["function"], c["service"], c["operation"]) for c in calls}
        print(f"IAM: {len(kinds)} kinds of AWS call by {len(FUNCTIONS)} functions, each allowed; "
              "each granted action is used, and removing any one is caught")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
