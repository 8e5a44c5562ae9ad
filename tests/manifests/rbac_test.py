#!/usr/bin/env python3
"""hfitop's RBAC (manifests/rbac.yaml) against the requests hfitop really
makes: an operator session against meshsim, with hfitop logging every
request it starts (HFITOP_REQUEST_LOG, a test hook in
tui/kube/kube_client.c: method, path without the query, content type).

Each logged request is mapped to what the API server's authorizer checks
(namespace, verb, resource, subresource, group), and then, as the API server
would, against the rules bound to each ServiceAccount of rbac.yaml:

  - every request of the session is allowed to SA hfitop (hfitop-operator);
  - every request of the read-only commands (--once, doctor) is allowed to
    SA hfitop-viewer (hfitop-viewer), which is bound to no write verb;
  - the console's known requests outside the headless session (the
    namespace picker's list namespaces, kubectl auth can-i) are allowed;
  - hfitop-operator grants no write verb the session does not use, save the
    ones the spec grants on purpose (SPEC_ONLY_GRANTS).

The distinct requests, each with the least role it needs, are written to
--out (the list that used to be hand-written).

  rbac_test.py --meshsim BIN --hfitop BIN --out FILE

Prints FAIL lines and, last, `RESULT <passed> <failed>`."""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

from testkit import Meshsim, check, fail, result

HERE = os.path.dirname(os.path.abspath(__file__))
RBAC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "manifests", "rbac.yaml")
NS = "demo"
TIMEOUT = 60  # seconds, for every command
OPERATOR_SA, VIEWER_SA = "hfitop", "hfitop-viewer"

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "bind", "escalate", "impersonate", "*"}
READ_VERBS = {"get", "list", "watch"}
# Allowed to every authenticated user by Kubernetes' default ClusterRoles
# (system:basic-user), so rbac.yaml need not grant them.
EVERYONE = {("create", "selfsubjectaccessreviews", "-", "authorization.k8s.io")}
# Requests the interactive console makes that the headless session cannot:
# (namespace, verb, resource, subresource, group).
CONSOLE_REQUESTS = [
    ("", "list", "namespaces", "-", "-"),  # the namespace picker (`n`)
    ("", "create", "selfsubjectaccessreviews", "-", "authorization.k8s.io"),  # which actions to offer
]
# Granted by the spec (issue 6, item 6) though hfitop sends no such request:
# creating and removing the WasmPlugin itself (`policy` merge-patches the
# one there is), and POST through the service proxy (`fire` sends GET).
SPEC_ONLY_GRANTS = {("create", "wasmplugins", "-", "extensions.istio.io"),
                    ("delete", "wasmplugins", "-", "extensions.istio.io"),
                    ("create", "services", "proxy", "-")}

# ---- the API server's view of a request -------------------------------------------

def attributes(method, path, content_type):
    """[(namespace, verb, resource, subresource, group)] the authorizer
    checks for one request (k8s.io/apiserver RequestInfoFactory): a
    server-side apply also needs create, for an object that may not exist."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, parts = "-", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, parts = parts[1], parts[3:]
    else:
        raise AssertionError("not a resource request: %s %s" % (method, path))
    ns = ""
    if parts[:1] == ["namespaces"] and len(parts) > 1:
        ns = parts[1]
        if len(parts) > 2 and parts[2] not in ("status", "finalize"):
            parts = parts[2:]
    assert parts, path
    resource, name, sub = parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "-"
    verb = {"GET": "get" if name else "list", "WATCH": "watch", "POST": "create", "PUT": "update",
            "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}[method]
    out = [(ns, verb, resource, sub, group)]
    if method == "PATCH" and content_type == "application/apply-patch+yaml":
        out.append((ns, "create", resource, sub, group))
    return out


# ---- rbac.yaml, per ServiceAccount ------------------------------------------------

def load_rbac():
    with open(RBAC) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def role_rules(docs, kind, name, ns):
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name
            and (kind == "ClusterRole" or d["metadata"].get("namespace") == ns)]
    assert len(hits) == 1, "%s %s in %r: %d found" % (kind, name, ns, len(hits))
    return hits[0]["rules"]


def grants(docs, sa):
    """[(namespace or None for everywhere, role name, rules)] bound to
    ServiceAccount `sa` of `demo`."""
    out = []
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s["kind"] == "ServiceAccount" and s["name"] == sa and s.get("namespace") == NS
                   for s in b["subjects"]):
            continue
        ref = b["roleRef"]
        assert ref["apiGroup"] == "rbac.authorization.k8s.io", ref
        ns = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
        assert b["kind"] == "RoleBinding" or ref["kind"] == "ClusterRole", b["metadata"]
        out.append((ns, ref["name"], role_rules(docs, ref["kind"], ref["name"], ns)))
    return out


def rule_allows(r, verb, resource, sub, group):
    res = resource if sub == "-" else resource + "/" + sub
    grp = "" if group == "-" else group
    return ((grp in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
            and (res in r.get("resources", []) or "*" in r.get("resources", []))
            and (verb in r.get("verbs", []) or "*" in r.get("verbs", [])))


def allowed(bound, attr):
    """The role that allows `attr` to the ServiceAccount, or None."""
    ns, verb, resource, sub, group = attr
    if (verb, resource, sub, group) in EVERYONE:
        return "everyone"
    for where, role, rules in bound:
        if where is not None and where != ns:
            continue  # a RoleBinding grants in its own namespace only
        if any(rule_allows(r, verb, resource, sub, group) for r in rules):
            return role
    return None


# ---- the session ------------------------------------------------------------------

POLICY = {"metadata": {"name": "t"}, "spec": {"rules": [{"fault": {"abort": {"httpStatus": 503}}}]}}


def session(hfitop, ms, tmp):
    """Runs the commands; returns [(command, readonly, [(method, path, ctype)])]."""
    log = os.path.join(tmp, "requests")
    env = dict(os.environ, HFITOP_REQUEST_LOG=log)
    policy = os.path.join(tmp, "policy.json")
    with open(policy, "w") as f:
        json.dump(POLICY, f)
    out = []

    def step(args, readonly):
        start = len(open(log).readlines()) if os.path.exists(log) else 0
        r = subprocess.run([hfitop, "--kubeconfig", ms.kubeconfig, "-n", NS] + args, env=env,
                           capture_output=True, text=True, timeout=TIMEOUT)
        lines = open(log).readlines()[start:] if os.path.exists(log) else []
        reqs = []
        for line in lines:
            f = line.split()
            assert len(f) == 3, "log line: %r" % line
            reqs.append(tuple(f))
        out.append((" ".join(args), readonly, reqs))
        assert r.returncode == 0, "hfitop %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                               (r.stderr or r.stdout)[-600:])
        assert reqs, "hfitop %s: no request logged" % " ".join(args)
        return r.stdout

    pods = json.loads(step(["--once", "-o", "json"], True))["pods"]
    step(["doctor"], True)
    pod = next(p["name"] for p in pods if p["deployment"] == "cart")
    step(["fire", pod, "--abort", "503", "--count", "2"], False)
    step(["fire", "svc/frontend", "--delay-ms", "10", "--count", "1"], False)
    step(["envoyfilter", "apply"], False)
    step(["envoyfilter", "delete"], False)
    step(["annotate", "frontend"], False)
    step(["restart", "cart"], False)
    step(["policy", "apply", policy], False)
    step(["policy", "remove", "t"], False)
    return out


# ---- checks -----------------------------------------------------------------------

def test_log_format(steps):
    bad = []
    for cmd, _, reqs in steps:
        for method, path, ctype in reqs:
            if method not in ("GET", "WATCH", "POST", "PUT", "PATCH", "DELETE") or "?" in path \
                    or not path.startswith("/") or not re.fullmatch(r"-|[a-z]+/[a-z0-9.+-]+", ctype):
                bad.append((cmd, method, path, ctype))
    assert not bad, bad


def test_no_token_logged(log, kubeconfig):
    cfg = yaml.safe_load(open(kubeconfig))
    user = cfg["users"][0]["user"]
    secrets = [v for k, v in user.items() if k in ("token", "client-key-data") and v]
    text = open(log).read()
    assert not [s for s in secrets if s in text], "a credential in the request log"
    assert "token" not in text.lower() and "authorization" not in text.lower(), "header-like text in the log"


def test_covers_commands(steps):
    """The session exercised what each command is for: a smoke test that the
    log is not missing whole kinds of request."""
    verbs = {a[1:] for _, _, reqs in steps for r in reqs for a in attributes(*r)}
    for want in [("list", "pods", "-", "-"), ("watch", "pods", "-", "-"), ("get", "pods", "proxy", "-"),
                 ("get", "services", "proxy", "-"), ("patch", "deployments", "-", "apps"),
                 ("patch", "envoyfilters", "-", "networking.istio.io"),
                 ("delete", "envoyfilters", "-", "networking.istio.io")]:
        assert want in verbs, "no %s in the session: %s" % (want, sorted(verbs))


def test_allowed(docs, sa, steps, readonly_only):
    bound = grants(docs, sa)
    assert bound, "nothing bound to %s" % sa
    bad = []
    for cmd, readonly, reqs in steps:
        if readonly_only and not readonly:
            continue
        for req in reqs:
            for a in attributes(*req):
                if not allowed(bound, a):
                    bad.append("%s: %s -> %s" % (cmd, " ".join(req), a))
    assert not bad, "denied to %s:\n  %s" % (sa, "\n  ".join(sorted(set(bad))))


def test_console_requests(docs):
    for sa in (OPERATOR_SA, VIEWER_SA):
        bound = grants(docs, sa)
        denied = [a for a in CONSOLE_REQUESTS if not allowed(bound, a)]
        assert not denied, "%s: %s" % (sa, denied)


def test_viewer_writes_nothing(docs):
    for where, role, rules in grants(docs, VIEWER_SA):
        for r in rules:
            assert set(r["verbs"]) <= READ_VERBS, "%s (in %s): %s" % (role, where or "the cluster", r)
            assert "*" not in r.get("resources", []) and "*" not in r.get("apiGroups", []), r


def test_no_unused_writes(docs, steps):
    used = {a[1:] for _, _, reqs in steps for r in reqs for a in attributes(*r)}
    surplus = []
    for where, role, rules in grants(docs, OPERATOR_SA):
        for r in rules:
            for group in r["apiGroups"]:
                for resource in r["resources"]:
                    res, _, sub = resource.partition("/")
                    for verb in set(r["verbs"]) - READ_VERBS:
                        k = (verb, res, sub or "-", group or "-")
                        if k not in used and k not in SPEC_ONLY_GRANTS:
                            surplus.append("%s: %s" % (role, k))
    assert not surplus, "write grants hfitop never uses: %s" % surplus


def test_spec_only_grants_unused(steps):
    """If hfitop starts sending one, it leaves SPEC_ONLY_GRANTS."""
    used = {a[1:] for _, _, reqs in steps for r in reqs for a in attributes(*r)}
    assert not (SPEC_ONLY_GRANTS & used), SPEC_ONLY_GRANTS & used


def test_operator_covers_viewer(docs):
    op = grants(docs, OPERATOR_SA)
    for where, role, rules in grants(docs, VIEWER_SA):
        for r in rules:
            for group in r["apiGroups"]:
                for resource in r["resources"]:
                    res, _, sub = resource.partition("/")
                    for v in r["verbs"]:
                        a = (where or NS, v, res, sub or "-", group or "-")
                        assert allowed(op, a), "%s has %s, the operator not" % (role, a)


def note_unused_reads(docs, steps):
    used = {a for _, _, reqs in steps for r in reqs for a in attributes(*r)} | set(CONSOLE_REQUESTS)
    unused = []
    for where, role, rules in grants(docs, VIEWER_SA):
        for r in rules:
            for group in r["apiGroups"]:
                for resource in r["resources"]:
                    res, _, sub = resource.partition("/")
                    unused += ["%s %s (%s)" % (v, resource, where or "cluster") for v in r["verbs"]
                               if (where or "", v, res, sub or "-", group or "-") not in used]
    if unused:
        print("note: viewer read grants the session does not use: %s" % ", ".join(unused))


def write_list(steps, out):
    """The distinct requests, each with the least role that needs it."""
    rows = {}
    for cmd, readonly, reqs in steps:
        for req in reqs:
            for a in attributes(*req):
                k = (a[0] or "(cluster)",) + a[1:]
                least = "everyone" if a[1:] in EVERYONE else "viewer" if readonly else "operator"
                if k not in rows or least == "viewer":
                    rows[k] = least
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write("# Generated by tests/manifests/rbac_test.py from an operator session against\n"
                "# meshsim: ROLE NAMESPACE VERB RESOURCE SUBRESOURCE GROUP (least role needed).\n")
        order = {"viewer": 0, "operator": 1, "everyone": 2}
        for k, role in sorted(rows.items(), key=lambda kv: (order[kv[1]], kv[0])):
            f.write("%-9s %-13s %-7s %-26s %-5s %s\n" % ((role,) + k))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshsim", required=True)
    ap.add_argument("--hfitop", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rbac-test-")
    ms = None
    try:
        docs = load_rbac()
        check("hfitop-viewer's bindings grant no write", test_viewer_writes_nothing, docs)
        check("hfitop-operator has every right of hfitop-viewer", test_operator_covers_viewer, docs)
        check("the console's picker and can-i are allowed to both accounts", test_console_requests, docs)
        steps = []
        try:
            ms = Meshsim(a.meshsim, tmp, "--traffic", "5")
            steps = session(a.hfitop, ms, tmp)
        except Exception as e:  # noqa: BLE001
            fail("the operator session", str(e))
        if steps:
            check("request log: METHOD PATH CONTENT-TYPE, no query", test_log_format, steps)
            check("request log: no credential", test_no_token_logged, os.path.join(tmp, "requests"),
                  ms.kubeconfig)
            check("the session made each kind of request", test_covers_commands, steps)
            check("every request of the session is allowed to SA hfitop (operator)",
                  test_allowed, docs, OPERATOR_SA, steps, False)
            check("every request of --once and doctor is allowed to SA hfitop-viewer",
                  test_allowed, docs, VIEWER_SA, steps, True)
            check("hfitop-operator grants no write the session does not use", test_no_unused_writes, docs, steps)
            check("the spec-only grants are still unused", test_spec_only_grants_unused, steps)
            note_unused_reads(docs, steps)
            rows = write_list(steps, a.out)
            print("note: %d distinct requests (%d log lines) written to %s" % (
                len(rows), sum(len(r) for _, _, r in steps), a.out))
    finally:
        if ms:
            ms.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result()


if __name__ == "__main__":
    sys.exit(main())
