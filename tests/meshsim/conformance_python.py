#!/usr/bin/python3
"""Debian's python3-kubernetes, a client nobody here wrote, against meshsim:
list, watch across a rollout (it sends watch=True), pod and service proxy by
percent-encoded path, custom objects, patches, objects created without kind,
logs followed until the pod ends. Prints `RESULT <passed> <failed>`.

Usage: conformance_python.py path/to/meshsim"""
import datetime
import json
import os
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "manifests"))
import testkit  # noqa: E402 - the shared harness lives beside the manifests tests
from testkit import check  # noqa: E402

from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

NS = "demo"


def assert_gone(why, read, *args):
    """read(*args) must answer 404 Not Found."""
    try:
        read(*args)
    except ApiException as e:
        assert e.status == 404, (why, e.status)
        return
    raise AssertionError(why)


def wait_until(seconds, fn):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False


def main(binary):
    tmp = tempfile.mkdtemp(prefix="meshsim-python-")
    sim = testkit.Meshsim(binary, tmp)
    try:
        run_checks(sim)
    finally:
        sim.stop()
        check_clean_exit(sim)
    return testkit.result()


def check_clean_exit(sim):
    err = open(sim.err.name).read()

    def clean():
        assert sim.proc.returncode == 0, "meshsim exited with %s" % sim.proc.returncode
        assert not re.search(r"Sanitizer|runtime error", err), err[-2000:]
    check("meshsim exits cleanly", clean)


def run_checks(sim):
    api = client.ApiClient(config.new_client_from_config(config_file=sim.kubeconfig).configuration)
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)

    pods = core.list_namespaced_pod(NS)

    def listed():
        assert len(pods.items) == 6, len(pods.items)
        assert all(p.status.phase == "Running" and p.status.pod_ip for p in pods.items)
        assert pods.metadata.resource_version
    check("list pods", listed)

    # Watch across a rollout: the client sends watch=True.
    old = sorted(p.metadata.name for p in pods.items if p.metadata.labels["app"] == "frontend")
    events = []
    w = watch.Watch()

    def follow():
        try:
            for e in w.stream(core.list_namespaced_pod, NS, label_selector="app=frontend", timeout_seconds=40):
                events.append((e["type"], e["object"].metadata.name, e["object"].metadata.deletion_timestamp))
        except Exception as e:  # noqa: BLE001 - reported by the check below
            events.append(("EXCEPTION", repr(e), None))
    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    time.sleep(0.5)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    apps.patch_namespaced_deployment("frontend", NS, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": stamp}}}}})

    def rolled():
        deleted = {n for t, n, _ in events if t == "DELETED"}
        added = {n for t, n, _ in events if t == "ADDED"} - set(old)
        return set(old) <= deleted and len(added) == 2 or any(t == "EXCEPTION" for t, _, _ in events)
    wait_until(30, rolled)
    w.stop()

    def watched_rollout():
        assert not any(t == "EXCEPTION" for t, _, _ in events), events
        types = [t for t, _, _ in events]
        assert types[:2] == ["ADDED", "ADDED"], types  # the current pods first
        assert set(old) <= {n for t, n, _ in events if t == "DELETED"}, events
        assert any(t == "MODIFIED" and n in old and d for t, n, d in events), "no Terminating pod seen"
        assert len({n for t, n, _ in events if t == "ADDED"} - set(old)) == 2, events
    check("watch=True follows a rollout: old pods Terminating then deleted, new ones added", watched_rollout)

    pod = next(p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="app=cart").items)

    # The client percent-encodes path parameters: POD%3A15090/proxy/stats%2Fprometheus.
    def pod_proxy():
        text = core.connect_get_namespaced_pod_proxy_with_path(pod + ":15090", NS, "stats/prometheus")
        assert "# TYPE envoy_server_live gauge" in text, text[:300]
        assert "wasmcustom_hfi_faults_aborts_total{}" in text or "hfi_faults_aborts_total{}" in text
    check("pod proxy by percent-encoded name and path", pod_proxy)

    def service_proxy():
        # The client turns a JSON answer into the str() of a dict.
        answer = str(core.connect_get_namespaced_service_proxy_with_path("cart:80", NS, "items/42"))
        assert "/items/42" in answer and "cart" in answer, answer
    check("service proxy by percent-encoded name and path", service_proxy)

    # Custom objects: the WasmPlugin and an EnvoyFilter of our own.
    ef = ("networking.istio.io", "v1alpha3", NS, "envoyfilters")

    def custom_objects():
        wps = custom.list_namespaced_custom_object("extensions.istio.io", "v1alpha1", NS, "wasmplugins")
        assert [i["metadata"]["name"] for i in wps["items"]] == ["hfi-fault"], wps
        created = custom.create_namespaced_custom_object(*ef, {
            "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
            "metadata": {"name": "py-filter"}, "spec": {"priority": 1}})
        assert created["metadata"]["uid"], created
        patched = custom.patch_namespaced_custom_object(*ef, "py-filter", {"spec": {"priority": 7}})
        assert patched["spec"]["priority"] == 7, patched
        got = custom.get_namespaced_custom_object(*ef, "py-filter")
        assert got["spec"]["priority"] == 7 and got["metadata"]["generation"] == 2, got
        custom.delete_namespaced_custom_object(*ef, "py-filter")
        assert_gone("still there after delete", custom.get_namespaced_custom_object, *ef, "py-filter")
    check("custom objects: list, create, patch, get, delete", custom_objects)

    def patch_deployment():
        d = apps.patch_namespaced_deployment("checkout", NS, {"spec": {"replicas": 3}})
        assert d.spec.replicas == 3, d.spec.replicas
        assert wait_until(20, lambda: len(core.list_namespaced_pod(NS, label_selector="app=checkout").items) == 3)
    check("strategic merge patch of a deployment scales it", patch_deployment)

    def patch_pod():
        p = core.patch_namespaced_pod(pod, NS, {"metadata": {"labels": {"chaos": "yes"},
                                                             "annotations": {"note": "python"}}})
        assert p.metadata.labels["chaos"] == "yes" and p.metadata.annotations["note"] == "python"
        assert [x.metadata.name for x in core.list_namespaced_pod(NS, label_selector="chaos=yes").items] == [pod]
    check("pods take label and annotation patches", patch_pod)

    # Built-in objects created from models that carry no kind or apiVersion.
    def create_without_kind():
        cm = core.create_namespaced_config_map(NS, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="py-config"), data={"a": "b"}))
        assert cm.kind == "ConfigMap" and cm.data == {"a": "b"}, cm
        labels = {"app": "py-web"}
        d = apps.create_namespaced_deployment(NS, client.V1Deployment(
            metadata=client.V1ObjectMeta(name="py-web"),
            spec=client.V1DeploymentSpec(
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")])))))
        assert d.kind == "Deployment", d.kind
        # Defaults a real server fills (kubernetes pkg/apis/apps/v1/defaults.go).
        assert d.spec.replicas == 1 and d.spec.revision_history_limit == 10, d.spec
        assert d.spec.progress_deadline_seconds == 600, d.spec
        assert d.spec.strategy.type == "RollingUpdate", d.spec.strategy
        assert d.spec.strategy.rolling_update.max_surge == "25%", d.spec.strategy
        assert d.spec.strategy.rolling_update.max_unavailable == "25%", d.spec.strategy
        svc = core.create_namespaced_service(NS, client.V1Service(
            metadata=client.V1ObjectMeta(name="py-web"),
            spec=client.V1ServiceSpec(selector=labels, ports=[client.V1ServicePort(port=80)])))
        assert svc.spec.type == "ClusterIP" and re.match(r"^\d+\.\d+\.\d+\.\d+$", svc.spec.cluster_ip or ""), svc.spec
        assert svc.spec.ports[0].target_port == 80 and svc.spec.ports[0].protocol == "TCP", svc.spec.ports
        assert svc.spec.session_affinity == "None", svc.spec
    check("create without kind, with the server's defaults", create_without_kind)

    # DeleteOptions preconditions: another uid or resourceVersion than the
    # object's is 409 Conflict, worded with its Kind (kubernetes
    # staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go, BeforeDelete),
    # and deletes nothing; matching ones delete.
    def refused(delete, name, preconditions, kind, why):
        try:
            delete(name, NS, body=client.V1DeleteOptions(preconditions=preconditions))
            raise AssertionError("deleted despite %s" % preconditions)
        except ApiException as e:
            s = json.loads(e.body)
            assert e.status == 409 and s["reason"] == "Conflict", (e.status, e.body)
            assert s["message"] == 'Operation cannot be fulfilled on %s "%s": %s' % (kind, name, why), s["message"]
            kind_name, _, group = kind.partition(".")
            details = {"name": name, "kind": kind_name}
            if group:
                details["group"] = group
            assert s["details"] == details, s["details"]

    def delete_preconditions():
        cm = core.create_namespaced_config_map(NS, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="py-guarded"), data={"a": "b"}))
        uid, first_rv = cm.metadata.uid, cm.metadata.resource_version
        rv = core.patch_namespaced_config_map("py-guarded", NS, {"data": {"a": "c"}}).metadata.resource_version
        assert rv != first_rv, (rv, first_rv)
        refused(core.delete_namespaced_config_map, "py-guarded", client.V1Preconditions(uid="0" + uid[1:]),
                "ConfigMap", "the UID in the precondition (0%s) does not match the UID in record (%s). The object "
                "might have been deleted and then recreated" % (uid[1:], uid))
        refused(core.delete_namespaced_config_map, "py-guarded", client.V1Preconditions(uid=uid, resource_version=first_rv),
                "ConfigMap", "the ResourceVersion in the precondition (%s) does not match the ResourceVersion in "
                "record (%s). The object might have been modified" % (first_rv, rv))
        assert core.read_namespaced_config_map("py-guarded", NS).data == {"a": "c"}
        d = apps.read_namespaced_deployment("frontend", NS)
        refused(apps.delete_namespaced_deployment, "frontend", client.V1Preconditions(uid=d.metadata.uid, resource_version="1"),
                "Deployment.apps", "the ResourceVersion in the precondition (1) does not match the ResourceVersion in "
                "record (%s). The object might have been modified" % d.metadata.resource_version)
        assert len(core.list_namespaced_pod(NS, label_selector="app=frontend").items) == 2
        core.delete_namespaced_config_map("py-guarded", NS, body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(uid=uid, resource_version=rv)))
        assert_gone("still there after a delete whose preconditions held", core.read_namespaced_config_map, "py-guarded", NS)
    check("delete preconditions: a stale uid or resourceVersion is 409 and deletes nothing", delete_preconditions)

    # An EnvoyFilter, as hfitop removes its own: custom objects take them too.
    def custom_delete_preconditions():
        created = custom.create_namespaced_custom_object(*ef, {
            "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
            "metadata": {"name": "py-guarded-filter"}, "spec": {"priority": 1}})
        uid = created["metadata"]["uid"]
        refused(lambda name, ns, body: custom.delete_namespaced_custom_object(*ef, name, body=body),
                "py-guarded-filter", client.V1Preconditions(uid="another"), "EnvoyFilter.networking.istio.io",
                "the UID in the precondition (another) does not match the UID in record (%s). The object might have "
                "been deleted and then recreated" % uid)
        custom.delete_namespaced_custom_object(*ef, "py-guarded-filter", body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(uid=uid)))
        assert_gone("still there after a delete whose preconditions held", custom.get_namespaced_custom_object, *ef, "py-guarded-filter")
    check("custom objects: delete preconditions", custom_delete_preconditions)

    # DELETE of a collection: what the label selector selects goes, the
    # rest stays (kubernetes handlers/delete.go, DeleteCollection).
    def delete_collection():
        for name, group in (("py-batch-a", "batch"), ("py-batch-b", "batch"), ("py-keeper", "keep")):
            core.create_namespaced_config_map(NS, client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=name, labels={"set": group})))
        core.delete_collection_namespaced_config_map(NS, label_selector="set=batch")
        left = sorted(c.metadata.name for c in core.list_namespaced_config_map(NS, label_selector="set").items)
        assert left == ["py-keeper"], left
        for name in ("py-filter-a", "py-filter-b"):
            custom.create_namespaced_custom_object(*ef, {
                "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
                "metadata": {"name": name, "labels": {"set": "batch"}}, "spec": {}})
        # This client sends no selector for custom objects: all of them go.
        deleted = custom.delete_collection_namespaced_custom_object(*ef)
        assert {"py-filter-a", "py-filter-b"} <= {i["metadata"]["name"] for i in deleted["items"]}, deleted
        assert not custom.list_namespaced_custom_object(*ef)["items"]
        core.delete_namespaced_config_map("py-keeper", NS)
    check("delete collection by label selector", delete_collection)

    # Strategic merge patches (a dict body) with the directives kubectl's
    # client-side apply sends: a list of primitives with a merge strategy
    # (finalizers) is a set, $deleteFromPrimitiveList takes from it, and
    # $retainKeys drops the fields it does not list (kubernetes
    # apimachinery pkg/util/strategicpatch/patch.go).
    def strategic_directives():
        core.create_namespaced_config_map(NS, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="py-finalized", finalizers=["example.com/a"])))
        cm = core.patch_namespaced_config_map("py-finalized", NS, {"metadata": {"finalizers": ["example.com/b"]}})
        assert cm.metadata.finalizers == ["example.com/b", "example.com/a"], cm.metadata.finalizers
        cm = core.patch_namespaced_config_map("py-finalized", NS, {"metadata": {
            "$deleteFromPrimitiveList/finalizers": ["example.com/a"]}})
        assert cm.metadata.finalizers == ["example.com/b"], cm.metadata.finalizers
        cm = core.patch_namespaced_config_map("py-finalized", NS, {"metadata": {"finalizers": None}})
        assert not cm.metadata.finalizers, cm.metadata.finalizers
        core.delete_namespaced_config_map("py-finalized", NS)
        d = apps.patch_namespaced_deployment("py-web", NS, {"spec": {"strategy": {
            "$retainKeys": ["type"], "type": "Recreate"}}})
        assert d.spec.strategy.type == "Recreate" and d.spec.strategy.rolling_update is None, d.spec.strategy
        try:
            apps.patch_namespaced_deployment("py-web", NS, {"spec": {"strategy": {
                "$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}})
            raise AssertionError("a field $retainKeys does not list was taken")
        except ApiException as e:
            assert e.status == 400 and json.loads(e.body)["message"] == "invalid patch format of retainKeys", e.body
    check("strategic merge patch: primitive sets, $deleteFromPrimitiveList, $retainKeys", strategic_directives)

    # follow=True streams the log until the pod ends.
    def follow_logs():
        victim = core.list_namespaced_pod(NS, label_selector="app=cart").items[0].metadata.name
        resp = core.read_namespaced_pod_log(victim, NS, container="istio-proxy", follow=True,
                                            _preload_content=False, _request_timeout=30)
        first = resp.read(64)
        assert first, "nothing logged"
        started = time.time()
        core.delete_namespaced_pod(victim, NS)
        resp.read()
        resp.release_conn()
        assert time.time() - started < 25, "the stream outlived the pod"
        assert_gone("the log ended while the pod was still there", core.read_namespaced_pod, victim, NS)
    check("follow=True follows the log until the pod is gone", follow_logs)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
