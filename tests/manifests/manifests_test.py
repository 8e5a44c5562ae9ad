#!/usr/bin/env python3
"""Tests of manifests/: the YAML itself, its kustomize renderings (source,
build/manifests/ and the oci variant), server-side apply into meshsim with
the plugin then running the shipped pluginConfig, and the pluginConfig in
the real plugin through the test host. hfitop's RBAC against the requests
it makes: rbac_test.py.

  manifests_test.py --meshsim BIN --check BIN --wasm WASM --rendered DIR

Prints FAIL lines and, last, `RESULT <passed> <failed>`."""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

import yaml

from testkit import Meshsim, check, result, run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SRC = os.path.join(ROOT, "manifests")
RENDER = os.path.join(HERE, "render.sh")
ZERO_SHA = "0" * 64
OCI_URL = "oci://registry.example/hfi/hfi-fault@sha256:" + "ab" * 32
WASM_URL = "http://hfi-wasm.hfi-system.svc.cluster.local/hfi-fault.wasm"
DEMO_APPS = ("frontend", "cart", "checkout")

def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def kustomize(path):
    r = run(["kubectl", "kustomize", path])
    assert r.returncode == 0, "kubectl kustomize %s: %s" % (path, r.stderr.strip())
    return [d for d in yaml.safe_load_all(r.stdout) if d is not None]


def key(o):
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


def find(objs, kind, name, ns=None):
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name
            and (ns is None or o["metadata"].get("namespace") == ns)]
    assert len(hits) == 1, "want one %s %s/%s, found %d" % (kind, ns, name, len(hits))
    return hits[0]


# ---- the files --------------------------------------------------------------

# Object files: each object's namespace as intended ("" = cluster-scoped).
OBJECT_FILES = {
    "namespace.yaml": {("Namespace", "demo"): ""},
    "demo-app.yaml": dict([(("Deployment", a), "demo") for a in DEMO_APPS]
                          + [(("Service", a), "demo") for a in DEMO_APPS]),
    "wasm-server.yaml": {("Namespace", "hfi-system"): "", ("Deployment", "hfi-wasm"): "hfi-system",
                         ("Service", "hfi-wasm"): "hfi-system"},
    "wasmplugin.yaml": {("WasmPlugin", "hfi-fault"): "demo"},
    "envoyfilter-wasm-stats.yaml": {("EnvoyFilter", "hfi-wasm-stats"): "demo"},
    "envoyfilter-wasm-stats-mesh.yaml": {("EnvoyFilter", "hfi-wasm-stats"): "istio-system"},
    "rbac.yaml": {("ServiceAccount", "hfitop"): "demo", ("ServiceAccount", "hfitop-viewer"): "demo",
                  ("Role", "hfitop-viewer"): "demo", ("Role", "hfitop-operator"): "demo",
                  ("RoleBinding", "hfitop-viewer"): "demo", ("RoleBinding", "hfitop-operator"): "demo",
                  ("Role", "hfitop-mesh-viewer"): "istio-system",
                  ("RoleBinding", "hfitop-mesh-viewer"): "istio-system",
                  ("ClusterRole", "hfitop-namespaces"): "", ("ClusterRoleBinding", "hfitop-namespaces"): ""},
}
# Files that are not objects to apply: kustomizations and the patch.
OTHER_FILES = {"kustomization.yaml", "module/kustomization.yaml", "oci/kustomization.yaml",
               "patch-proxy-config.yaml", "README.md"}
# Out of the default set on purpose (kustomization.yaml says why).
STANDALONE = {"envoyfilter-wasm-stats-mesh.yaml"}


def source_files():
    out = []
    for d, _, files in os.walk(SRC):
        for f in files:
            out.append(os.path.relpath(os.path.join(d, f), SRC))
    return sorted(out)


def test_files_known():
    unknown = [f for f in source_files() if f not in OBJECT_FILES and f not in OTHER_FILES]
    assert not unknown, "files the tests do not know: %s" % unknown
    missing = [f for f in list(OBJECT_FILES) + sorted(OTHER_FILES) if not os.path.exists(os.path.join(SRC, f))]
    assert not missing, "missing: %s" % missing


def test_yaml_parses(rel):
    docs = load_docs(os.path.join(SRC, rel))
    assert docs, "no document"
    for d in docs:
        assert isinstance(d, dict), "a document that is not a mapping"


def test_objects(rel, want):
    got = {}
    for d in load_docs(os.path.join(SRC, rel)):
        assert d.get("apiVersion") and d.get("kind"), "object without apiVersion/kind: %s" % d
        meta = d.get("metadata") or {}
        assert meta.get("name"), "%s without metadata.name" % d["kind"]
        got[(d["kind"], meta["name"])] = meta.get("namespace", "")
    assert got == want, "objects (kind, name) -> namespace: got %s, want %s" % (got, want)


def test_no_dead_files():
    """Every object file is in the default set or standalone on purpose."""
    k = load_docs(os.path.join(SRC, "kustomization.yaml"))[0]
    used = set(k.get("resources", [])) | {p["path"] for p in k.get("patches", []) if "path" in p}
    for rel in OBJECT_FILES:
        assert (rel in used) != (rel in STANDALONE), "%s: in the default set %s, standalone %s" % (
            rel, rel in used, rel in STANDALONE)
    assert "patch-proxy-config.yaml" in used
    assert not [r for r in used if not os.path.exists(os.path.join(SRC, r))], used
    text = open(os.path.join(SRC, "kustomization.yaml")).read()
    assert "\n#components: [module]\n" in text, "the line make manifests switches on"
    assert "components" not in k, "components are switched on only by make manifests"


def test_readme_names_real_files():
    """The files and directories the top README's "Real cluster" section
    names exist."""
    text = open(os.path.join(ROOT, "README.md")).read()
    text = text[text.index("## Real cluster"):]
    names = set(re.findall(r"`((?:manifests/)?[a-z0-9-]+(?:\.yaml|/(?:kustomization\.yaml)?))`", text))
    assert len(names) >= 8, names
    missing = [n for n in names if not os.path.exists(os.path.join(ROOT if n.startswith("manifests/") else SRC, n))]
    assert not missing, missing


def test_envoyfilter_single_document():
    """hfitop compiles this file in and server-side applies it whole."""
    text = open(os.path.join(SRC, "envoyfilter-wasm-stats.yaml")).read()
    assert len(load_docs(os.path.join(SRC, "envoyfilter-wasm-stats.yaml"))) == 1
    assert not re.search(r"^---", text, re.M), "a document separator"


def inclusion_patch(ef):
    spec = ef["spec"]
    assert set(spec) <= {"workloadSelector", "configPatches", "priority", "targetRefs"}, spec.keys()
    (p,) = spec["configPatches"]
    assert p["applyTo"] == "BOOTSTRAP", p
    assert p["patch"]["operation"] == "MERGE", p
    assert set(p) <= {"applyTo", "match", "patch"}
    pats = p["patch"]["value"]["stats_config"]["stats_matcher"]["inclusion_list"]["patterns"]
    assert pats == [{"prefix": "wasmcustom."}], pats
    return spec


def test_envoyfilters():
    (ef,) = load_docs(os.path.join(SRC, "envoyfilter-wasm-stats.yaml"))
    assert ef["apiVersion"] == "networking.istio.io/v1alpha3"
    spec = inclusion_patch(ef)
    assert spec["workloadSelector"] == {"labels": {"hfi-enabled": "true"}}, spec["workloadSelector"]
    (mesh,) = load_docs(os.path.join(SRC, "envoyfilter-wasm-stats-mesh.yaml"))
    mspec = inclusion_patch(mesh)
    assert "workloadSelector" not in mspec, "mesh-wide means no selector"
    assert mspec["configPatches"] == spec["configPatches"], "the two variants patch the same"


# The WasmPlugin CRD's spec fields (istio/api kubernetes/customresourcedefinitions.gen.yaml).
WASMPLUGIN_FIELDS = {"selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret",
                     "pluginConfig", "pluginName", "phase", "priority", "failStrategy", "vmConfig", "match", "type",
                     "verificationKey"}


def test_wasmplugin():
    (wp,) = load_docs(os.path.join(SRC, "wasmplugin.yaml"))
    assert wp["apiVersion"] == "extensions.istio.io/v1alpha1"
    s = wp["spec"]
    assert set(s) <= WASMPLUGIN_FIELDS, "unknown fields: %s" % (set(s) - WASMPLUGIN_FIELDS)
    assert s["selector"] == {"matchLabels": {"hfi-enabled": "true"}}, s["selector"]
    assert s["url"] == WASM_URL, s["url"]
    assert re.fullmatch(r"[a-f0-9]{64}", s["sha256"]), "the CRD's sha256 pattern (^$|^[a-f0-9]{64}$)"
    assert s["sha256"] == ZERO_SHA, "the placeholder make manifests fills in"
    assert s["failStrategy"] == "FAIL_OPEN"
    assert s["phase"] in ("UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"), s["phase"]
    assert isinstance(s["priority"], int)
    assert s["match"] == [{"mode": "SERVER"}], s["match"]
    pc = s["pluginConfig"]
    assert isinstance(pc, dict) and pc["policies"], "a demo policy"
    hf = pc["header_faults"]
    assert hf["enabled"] is True and isinstance(hf["token"], str) and hf["token"], hf


def test_policy_selectors_name_demo_apps():
    (wp,) = load_docs(os.path.join(SRC, "wasmplugin.yaml"))
    for p in wp["spec"]["pluginConfig"]["policies"]:
        sel = p["spec"].get("selector", {})
        assert sel.get("namespace") == "demo", sel
        assert sel.get("service") in DEMO_APPS, sel


def test_demo_app():
    docs = load_docs(os.path.join(SRC, "demo-app.yaml"))
    for app in DEMO_APPS:
        d = find(docs, "Deployment", app)
        t = d["spec"]["template"]
        labels = t["metadata"]["labels"]
        assert labels.get("app") == app and labels.get("hfi-enabled") == "true", labels
        sel = d["spec"]["selector"]["matchLabels"]
        assert all(labels.get(k) == v for k, v in sel.items()), "selector %s vs labels %s" % (sel, labels)
        (c,) = t["spec"]["containers"]
        ports = {p.get("name"): p["containerPort"] for p in c["ports"]}
        assert ports, "a declared containerPort"
        assert c["securityContext"]["runAsUser"] != 1337, "uid 1337 is the proxy's"
        svc = find(docs, "Service", app)
        assert svc["spec"]["selector"] == {"app": app}
        for sp in svc["spec"]["ports"]:
            assert sp["name"].startswith("http"), "Istio reads the protocol from the port name"
            assert sp["targetPort"] in ports or sp["targetPort"] in ports.values(), sp


def test_wasm_server():
    docs = load_docs(os.path.join(SRC, "wasm-server.yaml"))
    ns = find(docs, "Namespace", "hfi-system")
    assert ns["metadata"]["labels"].get("istio-injection") != "enabled"
    d = find(docs, "Deployment", "hfi-wasm")
    svc = find(docs, "Service", "hfi-wasm")
    t = d["spec"]["template"]
    assert t["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    (vol,) = t["spec"]["volumes"]
    assert vol["configMap"]["name"] == "hfi-wasm"
    (c,) = t["spec"]["containers"]
    (mount,) = c["volumeMounts"]
    assert "-h" in c["command"] and c["command"][c["command"].index("-h") + 1] == mount["mountPath"], \
        "httpd serves the mounted ConfigMap"
    port = c["ports"][0]
    assert svc["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    assert svc["spec"]["ports"][0]["port"] == 80, "the WasmPlugin url has no port"
    assert WASM_URL == "http://%s.%s.svc.cluster.local/hfi-fault.wasm" % (
        svc["metadata"]["name"], svc["metadata"]["namespace"])
    gen = load_docs(os.path.join(SRC, "module/kustomization.yaml"))[0]
    (g,) = gen["configMapGenerator"]
    assert g["name"] == "hfi-wasm" and g["namespace"] == "hfi-system" and g["files"] == ["hfi-fault.wasm"], g


def proxy_config_of(deploy):
    text = deploy["spec"]["template"]["metadata"]["annotations"]["proxy.istio.io/config"]
    return yaml.safe_load(text)


def test_proxy_config_patch():
    (p,) = load_docs(os.path.join(SRC, "patch-proxy-config.yaml"))
    pc = proxy_config_of(p)
    assert set(pc) == {"proxyStatsMatcher", "proxyMetadata"}, pc
    assert pc["proxyStatsMatcher"] == {"inclusionPrefixes": ["wasmcustom."]}, pc
    assert pc["proxyMetadata"] == {"BOOTSTRAP_XDS_AGENT": "true"}, "a string, as proxyMetadata is map<string,string>"


# ---- kustomize renderings ------------------------------------------------------

DEFAULT_SET = set()
for _rel, _objs in OBJECT_FILES.items():
    if _rel not in STANDALONE:
        DEFAULT_SET |= {(k, ns, n) for (k, n), ns in _objs.items()}


def kustomize_major():
    """The major version of kubectl's built-in kustomize, 0 if unknown."""
    r = run(["kubectl", "version", "--client", "-o", "json"])
    if r.returncode != 0:
        return 0
    m = re.match(r"v(\d+)\.", json.loads(r.stdout).get("kustomizeVersion", ""))
    return int(m.group(1)) if m else 0


def test_render_source():
    objs = kustomize(SRC)
    assert {key(o) for o in objs} == DEFAULT_SET, "got %s" % sorted({key(o) for o in objs} ^ DEFAULT_SET)
    for app in DEMO_APPS:
        pc = proxy_config_of(find(objs, "Deployment", app, "demo"))
        assert pc["proxyMetadata"]["BOOTSTRAP_XDS_AGENT"] == "true"
    assert "proxy.istio.io/config" not in (
        find(objs, "Deployment", "hfi-wasm")["spec"]["template"]["metadata"].get("annotations", {}))


def test_render_build(rendered, wasm):
    objs = kustomize(rendered)
    keys = {key(o) for o in objs}
    cms = [k for k in keys if k[0] == "ConfigMap"]
    assert len(cms) == 1 and cms[0][1] == "hfi-system" and re.fullmatch(r"hfi-wasm-[a-z0-9]{10}", cms[0][2]), cms
    assert keys - set(cms) == DEFAULT_SET, sorted(keys ^ DEFAULT_SET)
    cm = find(objs, "ConfigMap", cms[0][2])
    module = open(wasm, "rb").read()
    sha = hashlib.sha256(module).hexdigest()
    assert base64.b64decode(cm["binaryData"]["hfi-fault.wasm"]) == module, "the ConfigMap holds the module"
    assert len(module) < 1024 * 1024, "a ConfigMap holds at most 1 MiB"
    vol = find(objs, "Deployment", "hfi-wasm")["spec"]["template"]["spec"]["volumes"][0]
    assert vol["configMap"]["name"] == cms[0][2], "kustomize rewrote the reference"
    wp = find(objs, "WasmPlugin", "hfi-fault", "demo")
    assert wp["spec"]["sha256"] == sha, "sha256 %s, module %s" % (wp["spec"]["sha256"], sha)
    assert wp["spec"]["url"] == WASM_URL


def test_render_oci(tmp):
    out = os.path.join(tmp, "oci")
    r = run([RENDER, SRC, out, "--oci", OCI_URL])
    assert r.returncode == 0, r.stderr
    objs = kustomize(out)
    keys = {key(o) for o in objs}
    want = {k for k in DEFAULT_SET if k[1] != "hfi-system" and k[2] != "hfi-system"}
    assert keys == want, sorted(keys ^ want)
    wp = find(objs, "WasmPlugin", "hfi-fault", "demo")["spec"]
    assert wp["url"] == OCI_URL and "sha256" not in wp and wp["imagePullPolicy"] == "IfNotPresent", wp


def test_render_refuses(tmp):
    r = run([RENDER, SRC, os.path.join(tmp, "bad"), "--oci", "https://registry.example/x"])
    assert r.returncode != 0 and "oci://" in r.stderr, r.stderr
    src = os.path.join(tmp, "src-changed")
    shutil.copytree(SRC, src)
    wp = os.path.join(src, "wasmplugin.yaml")
    open(wp, "w").write(open(wp).read().replace(ZERO_SHA, "1" * 64))
    r = run([RENDER, src, os.path.join(tmp, "bad2"), "--module", os.path.join(ROOT, "build/hfi-fault.wasm")])
    assert r.returncode != 0 and "exactly one line" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(tmp, "bad2")), "nothing half-rendered"


# ---- the pluginConfig in the real plugin -----------------------------------------


def plugin_check(checker, wasm, tmp, workload):
    (wp,) = load_docs(os.path.join(SRC, "wasmplugin.yaml"))
    pc = wp["spec"]["pluginConfig"]
    path = os.path.join(tmp, "pluginConfig.json")
    with open(path, "w") as f:
        json.dump(pc, f)  # what Istio hands the plugin: the Struct as JSON
    r = run([checker, wasm, path, workload, "demo", pc["header_faults"]["token"]])
    assert r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr)
    got = dict(line.split() for line in r.stdout.splitlines())
    got = {k: int(v) for k, v in got.items()}
    want_policies = sum(len(p["spec"]["rules"]) for p in pc["policies"]
                        if p["spec"].get("selector", {}).get("service") in (None, "", workload))
    assert got["config_errors"] == 0, "config errors: %s" % r.stderr
    assert got["policies"] == want_policies, "policies %d, want %d" % (got["policies"], want_policies)
    assert got["header_fault_with_token"] == 503, got
    assert got["header_fault_without_token"] == 0, got
    assert got["host_misuse"] == 0, got
    return got


def test_plugin_config(checker, wasm, tmp):
    got = {w: plugin_check(checker, wasm, tmp, w)["policies"] for w in DEMO_APPS}
    assert got["frontend"] >= 1, "the demo policy applies to frontend: %s" % got


# ---- meshsim: server-side apply, then the plugin running the shipped config ---------


def served(ms):
    """kind -> verbs, for what meshsim serves."""
    r = ms.kubectl("api-resources", "-o", "wide", "--no-headers")
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        f = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS [CATEGORIES];
        # VERBS is "create,get" (kubectl >= 1.21) or "[create get]" (1.20).
        i = next(i for i, x in enumerate(f) if x in ("true", "false"))
        if f[i + 2].startswith("["):
            end = next(j for j in range(i + 2, len(f)) if f[j].endswith("]"))
            verbs = " ".join(f[i + 2:end + 1]).strip("[]").split()
        else:
            verbs = f[i + 2].split(",")
        out[(f[i - 1], f[i + 1])] = set(verbs)
    return out


def test_meshsim(meshsim, rendered, tmp):
    ms = Meshsim(meshsim, tmp)
    try:
        mesh_tests(ms, rendered, tmp)
    finally:
        ms.stop()


def mesh_tests(ms, rendered, tmp):
    kinds = served(ms)
    if kustomize_major() >= 4:
        objs = kustomize(rendered) + load_docs(os.path.join(SRC, "envoyfilter-wasm-stats-mesh.yaml"))
    else:  # no rendering here (see main): every object file as it is
        objs = [o for rel in OBJECT_FILES for o in load_docs(os.path.join(SRC, rel))]
    applied, skipped = [], []
    for o in objs:
        verbs = kinds.get((o["apiVersion"], o["kind"]), set())
        exists = False
        if "patch" in verbs and "create" not in verbs:
            ns = o["metadata"].get("namespace")
            exists = ms.kubectl("get", o["kind"].lower(), o["metadata"]["name"],
                                *(["-n", ns] if ns else [])).returncode == 0
        if "patch" in verbs and ("create" in verbs or exists):
            applied.append(o)
        else:
            skipped.append(key(o))
    print("note: meshsim applies %d objects; not served for writing: %s" % (
        len(applied), ", ".join("%s %s/%s" % k for k in sorted(skipped))))

    def must_apply_kinds():
        got = {o["kind"] for o in applied}
        assert {"WasmPlugin", "EnvoyFilter", "Deployment"} <= got, got
    check("meshsim serves WasmPlugin, EnvoyFilter and Deployment writes", must_apply_kinds)

    for o in applied:
        path = os.path.join(tmp, "apply-%s-%s-%s.yaml" % key(o))
        with open(path, "w") as f:
            yaml.safe_dump(o, f)

        def apply_ok(path=path):
            r = ms.kubectl("apply", "--server-side", "-f", path)
            assert r.returncode == 0 and "serverside-applied" in r.stdout, r.stderr.strip() or r.stdout
            r = ms.kubectl("apply", "--server-side", "-f", path)
            assert r.returncode == 0, "again: " + r.stderr.strip()
        check("server-side apply %s %s/%s" % key(o), apply_ok)

    def read_back():
        r = ms.kubectl("get", "wasmplugin", "hfi-fault", "-n", "demo", "-o", "json")
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)["spec"]
        want = find(objs, "WasmPlugin", "hfi-fault", "demo")["spec"]
        # Fields other managers own (meshsim's own demo plugin) may stay.
        changed = {k: got.get(k) for k in want if got.get(k) != want[k]}
        assert not changed, "changed on the way: %s" % changed
    check("WasmPlugin reads back as applied", read_back)

    # The deployments rolled (hfi-enabled label, annotation): wait for the
    # new frontend pods, whose sidecars run the shipped pluginConfig.
    def frontend_pods():
        deadline = time.time() + 30
        while time.time() < deadline:
            r = ms.kubectl("get", "pods", "-n", "demo", "-l", "app=frontend,hfi-enabled=true", "-o", "json")
            pods = json.loads(r.stdout)["items"] if r.returncode == 0 else []
            ready = [p for p in pods if p["status"].get("phase") == "Running"
                     and not p["metadata"].get("deletionTimestamp")]
            if ready:
                return ready
            time.sleep(0.2)
        raise AssertionError("no Running frontend pod with hfi-enabled=true in 30 s")

    pods = []

    def rolled():
        pods.extend(frontend_pods())
    check("demo deployments rolled to hfi-enabled pods", rolled)
    if not pods:
        return
    pod = pods[0]

    def proxy_env():
        (proxy,) = [c for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
                    if c["name"] == "istio-proxy"]
        env = {e["name"]: e.get("value") for e in proxy.get("env", [])}
        assert env.get("BOOTSTRAP_XDS_AGENT") == "true", env
    if kustomize_major() >= 4:  # the annotation is a kustomize patch
        check("the annotation puts BOOTSTRAP_XDS_AGENT in the proxy's environment", proxy_env)

    def stats():
        name = pod["metadata"]["name"]
        status, _, body = ms.request("/api/v1/namespaces/demo/pods/%s:15090/proxy/stats/prometheus"
                                     "?filter=hfi_faults" % name)
        assert status == 200, status
        vals = dict(re.findall(r"^(wasmcustom_hfi_faults_\w+)\{\} (\S+)$", body, re.M))
        assert vals.get("wasmcustom_hfi_faults_config_errors_total") == "0", vals
        assert int(vals.get("wasmcustom_hfi_faults_policies", "0")) >= 1, vals
    check("sidecar loaded the shipped pluginConfig (pod proxy :15090)", stats)

    def header_faults():
        token = find(objs, "WasmPlugin", "hfi-fault", "demo")["spec"]["pluginConfig"]["header_faults"]["token"]
        path = "/api/v1/namespaces/demo/services/frontend:80/proxy/"
        status, hdrs, _ = ms.request(path, {"x-hfi-fault-abort": "503", "x-hfi-fault-token": token})
        assert status == 503, "with the token: %d" % status
        assert {k.lower(): v for k, v in hdrs.items()}.get("x-hfi-fault") == "abort", hdrs
        status, _, _ = ms.request(path, {"x-hfi-fault-abort": "503"})
        assert status == 200, "without the token: %d" % status
    check("header faults fire with the shipped token only (service proxy)", header_faults)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshsim", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--rendered", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="manifests-test-")
    try:
        check("every file in manifests/ is known to the tests", test_files_known)
        for rel in source_files():
            if rel.endswith(".yaml"):
                check("%s parses as YAML" % rel, test_yaml_parses, rel)
        for rel, want in OBJECT_FILES.items():
            check("%s: apiVersion, kind, name and namespace" % rel, test_objects, rel, want)
        check("no dead files; components off in the source", test_no_dead_files)
        check("README.md names only files that exist", test_readme_names_real_files)
        check("envoyfilter-wasm-stats.yaml is one document", test_envoyfilter_single_document)
        check("EnvoyFilters: BOOTSTRAP MERGE of wasmcustom.", test_envoyfilters)
        check("WasmPlugin fields", test_wasmplugin)
        check("policy selectors name demo deployments", test_policy_selectors_name_demo_apps)
        check("demo app: labels, ports, services", test_demo_app)
        check("wasm server serves the generated ConfigMap at the url", test_wasm_server)
        check("proxy.istio.io/config patch", test_proxy_config_patch)
        # Components and patch targets need kustomize v4 (kubectl >= 1.21).
        # Debian 12's own kubernetes-client (1.20) carries v2, and Debian has
        # no newer kustomize: there the renderings are skipped, and said so.
        if kustomize_major() >= 4:
            check("kubectl kustomize manifests/", test_render_source)
            check("kubectl kustomize %s" % a.rendered, test_render_build, a.rendered, a.wasm)
            check("oci variant renders", test_render_oci, tmp)
        else:
            print("skip: kustomize renderings: kubectl's kustomize is older than v4 "
                  "(Debian 12's kubernetes-client is 1.20); install kubectl >= 1.21 to run them")
        check("render.sh refuses what it cannot fill", test_render_refuses, tmp)
        check("pluginConfig loads in the plugin for each demo workload", test_plugin_config, a.check, a.wasm, tmp)
        check("meshsim starts and stops", test_meshsim, a.meshsim, a.rendered, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result()


if __name__ == "__main__":
    sys.exit(main())
