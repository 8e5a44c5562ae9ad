#!/usr/bin/env bash
# kubectl, a client nobody here wrote, against meshsim: every answer it
# rejects is a meshsim bug. Usage: conformance.sh path/to/meshsim
. "$(dirname "$0")/lib.sh"
MESHSIM=${1:?usage: conformance.sh MESHSIM}
KUBECTL=(kubectl --request-timeout=20s)

meshsim_start "$MESHSIM"

"${KUBECTL[@]}" get pods -o json >"$MESHSIM_DIR/pods.json"
check "kubectl get pods -o json" test -s "$MESHSIM_DIR/pods.json"
check_py "pods have the fields hfitop reads" "$MESHSIM_DIR/pods.json" <<'PY'
import json, sys
pods = json.load(open(sys.argv[1]))["items"]
assert len(pods) == 6, len(pods)
native = 0
for p in pods:
    m, spec, st = p["metadata"], p["spec"], p["status"]
    app = m["labels"]["app"]
    h = m["labels"]["pod-template-hash"]
    ref = m["ownerReferences"][0]
    assert ref["kind"] == "ReplicaSet" and ref["name"] == app + "-" + h and ref["controller"] is True
    assert m["name"].startswith(ref["name"] + "-") and m["creationTimestamp"].endswith("Z")
    assert "sidecar.istio.io/status" in m["annotations"]
    assert spec["containers"][0]["ports"][0]["containerPort"] == 8080
    proxies = [c for c in spec["containers"] if c["name"] == "istio-proxy"]
    inits = [c for c in spec.get("initContainers", []) if c["name"] == "istio-proxy"]
    if inits:
        assert inits[0]["restartPolicy"] == "Always" and not proxies
        native += 1
    else:
        assert len(proxies) == 1
    assert st["phase"] == "Running" and st["startTime"]
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    assert all("restartCount" in c for c in st["containerStatuses"])
assert native == 2, native
PY

"${KUBECTL[@]}" get deployment frontend -o json >"$MESHSIM_DIR/deploy.json"
check "deployment status" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"]["readyReplicas"] == 2 and d["status"]["observedGeneration"] == d["metadata"]["generation"]
' "$MESHSIM_DIR/deploy.json"

pod=$("${KUBECTL[@]}" get pods -l app=frontend -o jsonpath='{.items[0].metadata.name}')
check "label selector" test -n "$pod"
"${KUBECTL[@]}" get --raw "/api/v1/namespaces/demo/pods/$pod:15090/proxy/stats/prometheus" >"$MESHSIM_DIR/stats"
check "sidecar stats through the pod proxy" grep -q '^# TYPE envoy_cluster_upstream_rq_total counter$' "$MESHSIM_DIR/stats"
check "plugin metric rendered" grep -qx 'wasmcustom_hfi_faults_aborts_total{} 0' "$MESHSIM_DIR/stats"
check "stats filter" bash -c "'${KUBECTL[0]}' get --raw '/api/v1/namespaces/demo/pods/$pod:15090/proxy/stats/prometheus?filter=wasmcustom' | grep -v wasmcustom_hfi | grep -qv '^# TYPE wasmcustom' ; test \$? -ne 0"

proxy_log_has_plugin() { "${KUBECTL[@]}" logs "$pod" -c istio-proxy | grep -q 'wasm log hfi-fault: '; }
check "kubectl logs -c istio-proxy shows the plugin's log" proxy_log_has_plugin
app_log() { "${KUBECTL[@]}" logs "$pod" | grep -q 'listening on :8080'; }
check "kubectl logs picks the app container" app_log
check "unknown container -> error" bash -c "! '${KUBECTL[0]}' logs '$pod' -c nope"

old=$("${KUBECTL[@]}" get pods -l app=frontend -o jsonpath='{.items[*].metadata.name}')
"${KUBECTL[@]}" get pods -l app=frontend --watch-only -o name >"$MESHSIM_DIR/watch" 2>&1 &
watcher=$!
sleep 0.5
check "kubectl rollout restart" "${KUBECTL[@]}" rollout restart deployment/frontend
check "kubectl rollout status" "${KUBECTL[@]}" rollout status deployment/frontend --timeout=30s
new_pods() {
    local now
    now=$("${KUBECTL[@]}" get pods -l app=frontend -o jsonpath='{.items[*].metadata.name}')
    [ "$(echo "$now" | wc -w)" -eq 2 ] || return 1
    for p in $now; do case " $old " in *" $p "*) return 1 ;; esac; done
}
check "new pods replace the old ones" wait_for 20 new_pods
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
check "watch saw the new pods" test "$(sort -u "$MESHSIM_DIR/watch" | wc -l)" -ge 4

victim=$("${KUBECTL[@]}" get pods -l app=cart -o jsonpath='{.items[0].metadata.name}')
check "kubectl delete pod" "${KUBECTL[@]}" delete pod "$victim" --wait=true --timeout=20s
replaced() {
    local now
    now=$("${KUBECTL[@]}" get pods -l app=cart -o jsonpath='{.items[*].metadata.name}')
    [ "$(echo "$now" | wc -w)" -eq 2 ] && ! echo "$now" | grep -qw "$victim"
}
check "the ReplicaSet replaces a deleted pod" wait_for 20 replaced

cat >"$MESHSIM_DIR/ef.yaml" <<'YAML'
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: hfi-stats-inclusion
  namespace: demo
spec:
  configPatches:
  - applyTo: BOOTSTRAP
    patch:
      operation: MERGE
      value:
        stats_config:
          stats_matcher:
            inclusion_list:
              patterns:
              - prefix: "wasmcustom."
YAML
check "kubectl apply --server-side" "${KUBECTL[@]}" apply --server-side -f "$MESHSIM_DIR/ef.yaml"
check "apply again is idempotent" "${KUBECTL[@]}" apply --server-side -f "$MESHSIM_DIR/ef.yaml"
check "kubectl get envoyfilter" bash -c "'${KUBECTL[0]}' get envoyfilter hfi-stats-inclusion -o jsonpath='{.spec.configPatches[0].applyTo}' | grep -qx BOOTSTRAP"
# The object as served (--show-managed-fields is kubectl >= 1.21 only).
check "managedFields name the manager" bash -c "'${KUBECTL[0]}' get --raw /apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters/hfi-stats-inclusion | grep -q '\"manager\":\"kubectl\"'"
check "kubectl patch --type=json" "${KUBECTL[@]}" patch envoyfilter hfi-stats-inclusion --type=json -p '[{"op":"add","path":"/spec/priority","value":10}]'
check "kubectl patch --type=merge" "${KUBECTL[@]}" patch envoyfilter hfi-stats-inclusion --type=merge -p '{"metadata":{"labels":{"owner":"test"}}}'
check "patches visible" bash -c "'${KUBECTL[0]}' get envoyfilter -l owner=test -o jsonpath='{.items[0].spec.priority}' | grep -qx 10"
# kubectl delete --raw sends a file as the DeleteOptions body: preconditions
# naming a version of the object other than the stored one are refused
# with 409 Conflict and delete nothing; the current uid and version delete.
EF_PATH=/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters/hfi-stats-inclusion
ef_uid=$("${KUBECTL[@]}" get envoyfilter hfi-stats-inclusion -o jsonpath='{.metadata.uid}')
ef_rv=$("${KUBECTL[@]}" get envoyfilter hfi-stats-inclusion -o jsonpath='{.metadata.resourceVersion}')
printf '{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1","preconditions":{"uid":"%s","resourceVersion":"1"}}' "$ef_uid" >"$MESHSIM_DIR/stale.json"
"${KUBECTL[@]}" delete --raw "$EF_PATH" -f "$MESHSIM_DIR/stale.json" >"$MESHSIM_DIR/stale.out" 2>&1
check "kubectl delete --raw with a stale resourceVersion fails" test $? -ne 0
check "  with the API server's Conflict" grep -qF "Error from server (Conflict): Operation cannot be fulfilled on EnvoyFilter.networking.istio.io \"hfi-stats-inclusion\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ($ef_rv). The object might have been modified" "$MESHSIM_DIR/stale.out"
check "  and deletes nothing" "${KUBECTL[@]}" get envoyfilter hfi-stats-inclusion
printf '{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"%s","resourceVersion":"%s"}}' "$ef_uid" "$ef_rv" >"$MESHSIM_DIR/current.json"
check "kubectl delete --raw with the current uid and resourceVersion" "${KUBECTL[@]}" delete --raw "$EF_PATH" -f "$MESHSIM_DIR/current.json"
check "  deletes" bash -c "! '${KUBECTL[0]}' get envoyfilter hfi-stats-inclusion"
check "kubectl apply it again" "${KUBECTL[@]}" apply --server-side -f "$MESHSIM_DIR/ef.yaml"
check "kubectl delete" "${KUBECTL[@]}" delete envoyfilter hfi-stats-inclusion
check "deleted for good" bash -c "! '${KUBECTL[0]}' get envoyfilter hfi-stats-inclusion"
check "kubectl get wasmplugins" bash -c "'${KUBECTL[0]}' get wasmplugins -o name | grep -qx wasmplugin.extensions.istio.io/hfi-fault"
check "kubectl auth can-i pods/proxy" bash -c "'${KUBECTL[0]}' auth can-i get pods --subresource=proxy | grep -qx yes"
check "kubectl get namespaces" bash -c "'${KUBECTL[0]}' get namespaces -o name | grep -qx namespace/demo"
check "kubectl get replicasets" bash -c "'${KUBECTL[0]}' get rs -o name | grep -c frontend | grep -qx 2"
check "kubectl version" "${KUBECTL[@]}" version
table_pods() { "${KUBECTL[@]}" get pods | awk 'NR == 1 && $2 == "READY" && $3 == "STATUS" { h = 1 } NR > 1 && $2 == "2/2" && $3 == "Running" { n++ } END { exit !(h && n == 6) }'; }
check "kubectl get pods prints the server's Table" table_pods
table_deploy() { "${KUBECTL[@]}" get deployment frontend | grep -qE '^frontend +2/2 +2 +2 '; }
check "kubectl get deployment prints READY 2/2" table_deploy

# A deployment of one's own: client-side apply (POST, then a strategic
# merge PATCH), its pods get sidecars and answer on their own port.
cat >"$MESHSIM_DIR/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80}]
YAML
check "kubectl apply creates a deployment" "${KUBECTL[@]}" apply -f "$MESHSIM_DIR/web.yaml"
check "kubectl rollout status of a new deployment" "${KUBECTL[@]}" rollout status deployment/web --timeout=30s
web_pod=$("${KUBECTL[@]}" get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
check "its app answers on its containerPort" bash -c "'${KUBECTL[0]}' get --raw '/api/v1/namespaces/demo/pods/$web_pod:80/proxy/hi' | grep -q '\"app\":\"web\"'"
sed -i 's/replicas: 2/replicas: 3/' "$MESHSIM_DIR/web.yaml"
check "kubectl apply scales it" "${KUBECTL[@]}" apply -f "$MESHSIM_DIR/web.yaml"
three_ready() { "${KUBECTL[@]}" get deployment web | grep -qE '^web +3/3 '; }
check "three replicas ready" wait_for 10 three_ready
check "kubectl delete -f" "${KUBECTL[@]}" delete -f "$MESHSIM_DIR/web.yaml"
web_gone() { [ -z "$("${KUBECTL[@]}" get pods,rs -l app=web -o name)" ]; }
check "its ReplicaSets and pods go with it" wait_for 10 web_gone

check "kubectl scale" "${KUBECTL[@]}" scale deployment cart --replicas=3
three_carts() { [ "$("${KUBECTL[@]}" get pods -l app=cart -o name | wc -l)" -eq 3 ]; }
check "scaled up" wait_for 10 three_carts
check "kubectl scale down" "${KUBECTL[@]}" scale deployment cart --replicas=1
one_cart() { [ "$("${KUBECTL[@]}" get pods -l app=cart -o name | wc -l)" -eq 1 ]; }
check "scaled down" wait_for 10 one_cart

# What a real API server serves besides: events, nodes, endpoints, the
# self reviews, /version/ with its slash, pods' labels and annotations,
# init containers' logs, logs followed until the pod ends.
"${KUBECTL[@]}" get events >"$MESHSIM_DIR/events" 2>&1
check "kubectl get events" grep -qE '^[0-9a-z]+ +Normal +ScalingReplicaSet +deployment/frontend +Scaled up replica set frontend-' "$MESHSIM_DIR/events"
for reason in Scheduled Pulled Created Started Killing; do
    check "  a rollout's $reason events" grep -qE "Normal +$reason +pod/frontend-" "$MESHSIM_DIR/events"
done
check "  scaled down the old ReplicaSet" grep -qE 'ScalingReplicaSet +deployment/frontend +Scaled down replica set frontend-.* to 0' "$MESHSIM_DIR/events"
fe_pod=$("${KUBECTL[@]}" get pods -l app=frontend -o jsonpath='{.items[0].metadata.name}')
check "kubectl describe pod shows its events" bash -c "'${KUBECTL[0]}' describe pod '$fe_pod' | grep -qE 'Started +[0-9a-z]+ +kubelet +Started container istio-proxy'"
pod_events() { "${KUBECTL[@]}" get --raw "/api/v1/namespaces/demo/events?fieldSelector=involvedObject.name%3D$fe_pod" | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
assert items and all(e["involvedObject"]["name"] == sys.argv[1] for e in items), items
' "$fe_pod"; }
check "events by fieldSelector involvedObject.name" pod_events
check "kubectl auth whoami" bash -c "'${KUBECTL[0]}' auth whoami | grep -qE '^Username +meshsim-admin'"
check "kubectl auth can-i --list" bash -c "'${KUBECTL[0]}' auth can-i --list | grep -qE '^\*\.\* +\[\] +\[\] +\[\*\]'"
check "kubectl get --raw /version/" bash -c "'${KUBECTL[0]}' get --raw /version/ | grep -q gitVersion"
check "kubectl get nodes" bash -c "'${KUBECTL[0]}' get nodes | grep -qE '^meshsim-node +Ready '"
endpoints_ready() { "${KUBECTL[@]}" get endpoints frontend -o jsonpath='{.subsets[0].addresses[*].ip}' | wc -w | grep -qx 2; }
check "kubectl get endpoints: the ready pods" endpoints_ready
check "kubectl get endpointslices" bash -c "'${KUBECTL[0]}' get endpointslices -l kubernetes.io/service-name=cart -o name | grep -q ."
check "kubectl label pod" "${KUBECTL[@]}" label pod "$fe_pod" chaos=on
check "kubectl annotate pod" "${KUBECTL[@]}" annotate pod "$fe_pod" note=meshsim
check "  selected by the new label" bash -c "'${KUBECTL[0]}' get pods -l chaos=on -o name | grep -qx 'pod/$fe_pod'"
check "kubectl logs of an init container" bash -c "'${KUBECTL[0]}' logs '$fe_pod' -c istio-init | grep -q istio-iptables"
"${KUBECTL[@]}" logs -f "$fe_pod" -c istio-proxy >"$MESHSIM_DIR/follow" 2>&1 &
follower=$!
check "kubectl logs -f prints the log so far" wait_for 20 test -s "$MESHSIM_DIR/follow"
lines_before=$(wc -l <"$MESHSIM_DIR/follow")
# A new configuration makes the proxy log a line.
"${KUBECTL[@]}" patch wasmplugin hfi-fault --type=merge -p '{"spec":{"pluginConfig":{"header_faults":{"enabled":true,"token":"follow"}}}}' >/dev/null
more_lines() { [ "$(wc -l <"$MESHSIM_DIR/follow")" -gt "$lines_before" ]; }
check "  and follows what is logged after" wait_for 20 more_lines
"${KUBECTL[@]}" delete pod "$fe_pod" --wait=false >/dev/null
follower_done() { ! kill -0 "$follower" 2>/dev/null; }
check "  until the pod is gone" wait_for 20 follower_done
check "  (the pod is gone)" bash -c "! '${KUBECTL[0]}' get pod '$fe_pod'"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null

# rollout undo brings the previous ReplicaSet back instead of making one.
rs_count() { "${KUBECTL[@]}" get rs -l app=frontend -o name | wc -l; }
rs_before=$(rs_count)
prev_rs=$("${KUBECTL[@]}" get rs -l app=frontend -o json | python3 -c '
import json, sys
sets = json.load(sys.stdin)["items"]
old = [s for s in sets if s["spec"]["replicas"] == 0]
print(old[0]["metadata"]["name"] if old else "")')
check "a previous ReplicaSet to undo to" test -n "$prev_rs"
check "kubectl rollout undo" "${KUBECTL[@]}" rollout undo deployment/frontend
check "kubectl rollout status after undo" "${KUBECTL[@]}" rollout status deployment/frontend --timeout=30s
prev_back() { [ "$("${KUBECTL[@]}" get rs "$prev_rs" -o jsonpath='{.status.readyReplicas}')" = 2 ]; }
check "  the previous ReplicaSet runs the pods again" wait_for 20 prev_back
check "  and no ReplicaSet was added" test "$(rs_count)" -eq "$rs_before"

# kubectl explain reads the OpenAPI v3 schemas (kubectl >= 1.27; older
# ones read v2, which meshsim leaves empty: they would validate manifests
# against it and refuse any field a subset lacks).
client_minor=$("${KUBECTL[0]}" version --client -o json | python3 -c 'import json, sys; print(int("".join(c for c in json.load(sys.stdin)["clientVersion"]["minor"] if c.isdigit())))')
if [ "$client_minor" -ge 27 ]; then
    "${KUBECTL[@]}" explain pods.spec.containers >"$MESHSIM_DIR/explain" 2>&1
    check "kubectl explain pods.spec.containers" grep -qE '^FIELD: containers <\[\]Container>' "$MESHSIM_DIR/explain"
    check "  lists a container's fields" grep -qE '^  ports	<\[\]ContainerPort>' "$MESHSIM_DIR/explain"
    check "  and marks the required ones" grep -qE '^  name	<string> -required-' "$MESHSIM_DIR/explain"
    check "kubectl explain deployment.spec.replicas" bash -c "'${KUBECTL[0]}' explain deployment.spec.replicas | grep -qE '^FIELD: replicas <integer>'"
    check "kubectl explain replicasets (no PATCH)" bash -c "'${KUBECTL[0]}' explain rs.spec.template.spec.containers.image | grep -qE '^FIELD: image <string>'"
    for field in service.spec.ports.targetPort configmap.data namespace.status.phase event.involvedObject.uid; do
        check "kubectl explain $field" "${KUBECTL[@]}" explain "$field"
    done
    "${KUBECTL[@]}" explain wasmplugins.spec >"$MESHSIM_DIR/explain" 2>&1
    check "kubectl explain wasmplugins.spec" grep -qE '^GROUP: +extensions.istio.io' "$MESHSIM_DIR/explain"
    check "  its pluginConfig" grep -qE '^  pluginConfig	<Object>' "$MESHSIM_DIR/explain"
    check "kubectl explain envoyfilters.spec.configPatches.applyTo" bash -c "'${KUBECTL[0]}' explain envoyfilters.spec.configPatches.applyTo | grep -q BOOTSTRAP"
    check "kubectl explain of a field no type has fails" bash -c "'${KUBECTL[0]}' explain pods.spec.nosuchfield 2>&1 | grep -q 'field \"nosuchfield\" does not exist'"
else
    echo "kubectl 1.$client_minor reads OpenAPI v2: kubectl explain not checked" >&2
fi
# The schemas carry what the API server's do for strategic merge patches
# and server-side apply: kinds, merge keys, list types.
"${KUBECTL[@]}" get --raw /openapi/v3 >"$MESHSIM_DIR/openapi-root"
"${KUBECTL[@]}" get --raw "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["paths"]["api/v1"]["serverRelativeURL"])' "$MESHSIM_DIR/openapi-root")" >"$MESHSIM_DIR/openapi-core"
check_py "OpenAPI v3: kinds, patch strategies and merge keys" "$MESHSIM_DIR/openapi-core" <<'PY'
import json, sys
schemas = json.load(open(sys.argv[1]))["components"]["schemas"]
pod = schemas["io.k8s.api.core.v1.Pod"]
assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Pod"}], pod
spec = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]
c = spec["containers"]
assert c["x-kubernetes-patch-strategy"] == "merge" and c["x-kubernetes-patch-merge-key"] == "name", c
assert c["x-kubernetes-list-type"] == "map" and c["x-kubernetes-list-map-keys"] == ["name"], c
assert c["items"]["allOf"][0]["$ref"] == "#/components/schemas/io.k8s.api.core.v1.Container", c
assert spec["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys", spec["volumes"]
ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
assert ports["x-kubernetes-patch-merge-key"] == "containerPort" and ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"], ports
owners = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["ownerReferences"]
assert owners["x-kubernetes-patch-merge-key"] == "uid", owners
for ref in (v for s in schemas.values() for v in json.dumps(s).split('"$ref": "')[1:]):
    assert ref.split('"')[0].split("/")[-1] in schemas, ref
PY
# Client-side apply computes its patch from kubectl's compiled types, not
# from the subset: a field the schemas lack changes nothing, warns of nothing.
cat >"$MESHSIM_DIR/aliases.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: aliases
spec:
  replicas: 1
  selector:
    matchLabels: {app: aliases}
  template:
    metadata:
      labels: {app: aliases}
    spec:
      hostAliases: [{ip: 10.0.0.1, hostnames: [one]}]
      containers:
      - name: app
        image: nginx
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
      - name: extra
        image: busybox
YAML
check "kubectl apply of a field the schemas lack" "${KUBECTL[@]}" apply -f "$MESHSIM_DIR/aliases.yaml"
sed -i 's/, {name: B, value: "2"}//; /- name: extra/,$d' "$MESHSIM_DIR/aliases.yaml"
"${KUBECTL[@]}" apply -f "$MESHSIM_DIR/aliases.yaml" >"$MESHSIM_DIR/apply.out" 2>&1
check "  applied again" grep -q 'deployment.apps/aliases configured' "$MESHSIM_DIR/apply.out"
check "  without a warning" bash -c "! grep -qi warning '$MESHSIM_DIR/apply.out'"
merged() { [ "$("${KUBECTL[@]}" get deployment aliases -o jsonpath='{range .spec.template.spec.containers[*]}{.name}={.env[*].name};{end}')" = "app=A;" ]; }
check "  the container and the variable left out are gone" merged
# A strategic merge patch merges a list by the merge key the API types give
# it (patchMergeKey: hostAliases by ip, a Service's ports by port) and
# keeps the items it does not name; the patch's come first (kubernetes
# apimachinery pkg/util/strategicpatch/patch.go, normalizeElementOrder).
check "kubectl patch --type strategic of hostAliases" "${KUBECTL[@]}" patch deployment aliases --type strategic \
    -p '{"spec":{"template":{"spec":{"hostAliases":[{"ip":"10.0.0.2","hostnames":["two"]}]}}}}'
aliases_merged() { [ "$("${KUBECTL[@]}" get deployment aliases -o jsonpath='{.spec.template.spec.hostAliases[*].ip}')" = "10.0.0.2 10.0.0.1" ]; }
check "  merged by ip: the other alias is kept" aliases_merged
"${KUBECTL[@]}" patch deployment aliases -p '{"spec":{"template":{"spec":{"containers":[{"image":"httpd"}]}}}}' >"$MESHSIM_DIR/nokey.out" 2>&1
check "a list item without its merge key is refused as the API server does" \
    grep -qxF 'Error from server: map: map[image:httpd] does not contain declared merge key: name' "$MESHSIM_DIR/nokey.out"
check "  delete it" "${KUBECTL[@]}" delete deployment aliases
cat >"$MESHSIM_DIR/ports.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: ports
spec:
  selector: {app: ports}
  ports: [{name: http, port: 80, targetPort: 8080}]
YAML
check "kubectl apply of a service" "${KUBECTL[@]}" apply -f "$MESHSIM_DIR/ports.yaml"
check "kubectl patch of its ports" "${KUBECTL[@]}" patch service ports \
    -p '{"spec":{"ports":[{"name":"metrics","port":15090,"targetPort":15090}]}}'
ports_merged() { [ "$("${KUBECTL[@]}" get service ports -o jsonpath='{.spec.ports[*].name}')" = "metrics http" ]; }
check "  merged by port: the other port is kept" ports_merged
check "  delete it" "${KUBECTL[@]}" delete service ports

# kubectl validates on the server (fieldValidation=Strict): a typo fails.
sed 's/replicas: \([0-9]\)/replica: \1/; s/name: web$/name: web-typo/; s/app: web}/app: web-typo}/g' "$MESHSIM_DIR/web.yaml" >"$MESHSIM_DIR/typo.yaml"
"${KUBECTL[@]}" apply -f "$MESHSIM_DIR/typo.yaml" >"$MESHSIM_DIR/typo.out" 2>&1
check "kubectl apply of a manifest with a typo fails" test $? -ne 0
check "  naming the unknown field" grep -q 'unknown field "spec.replica"' "$MESHSIM_DIR/typo.out"
check "  and creates nothing" bash -c "! '${KUBECTL[0]}' get deployment web-typo"

# Dry runs store nothing: kubectl diff (a server-side dry-run patch) and
# --dry-run=server on apply, scale and delete.
state() { "${KUBECTL[@]}" get deployment frontend -o jsonpath='{.metadata.resourceVersion} {.metadata.generation} {.spec.replicas}'; }
before=$(state)
"${KUBECTL[@]}" get deployment frontend -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d["spec"]["replicas"] = 5
d["spec"]["template"]["metadata"].setdefault("annotations", {})["diff"] = "only"
json.dump(d, sys.stdout)' >"$MESHSIM_DIR/frontend-changed.json"
"${KUBECTL[@]}" diff -f "$MESHSIM_DIR/frontend-changed.json" >"$MESHSIM_DIR/diff" 2>&1
check "kubectl diff reports the change (exit 1)" test $? -eq 1
check "the diff shows the new replicas" grep -q '^+  replicas: 5' "$MESHSIM_DIR/diff"
check "kubectl diff changed nothing" test "$(state)" = "$before"
sed 's/name: web$/name: web-dry/; s/app: web}/app: web-dry}/g' "$MESHSIM_DIR/web.yaml" >"$MESHSIM_DIR/web-dry.yaml"
check "kubectl apply --dry-run=server" bash -c "'${KUBECTL[0]}' apply --dry-run=server -f '$MESHSIM_DIR/web-dry.yaml' | grep -q 'created (server dry run)'"
check "  created nothing" bash -c "! '${KUBECTL[0]}' get deployment web-dry"
check "kubectl apply --server-side --dry-run=server" "${KUBECTL[@]}" apply --server-side --dry-run=server -f "$MESHSIM_DIR/frontend-changed.json" --force-conflicts
check "kubectl scale --dry-run=server" "${KUBECTL[@]}" scale deployment frontend --replicas=4 --dry-run=server
check "  changed nothing" test "$(state)" = "$before"
dry_victim=$("${KUBECTL[@]}" get pods -l app=frontend -o jsonpath='{.items[0].metadata.name}')
check "kubectl delete --dry-run=server" "${KUBECTL[@]}" delete pod "$dry_victim" --dry-run=server
not_terminating() { [ -z "$("${KUBECTL[@]}" get pod "$dry_victim" -o jsonpath='{.metadata.deletionTimestamp}')" ]; }
check "  the pod is not terminating" not_terminating

# Bearer-token auth: the kubeconfig carries a token, kubectl uses it.
meshsim_start "$MESHSIM" --auth token
check "kubeconfig holds a token, no client key" bash -c "grep -q '^    token: ' '$KUBECONFIG' && ! grep -q client-key-data '$KUBECONFIG'"
check "kubectl with a token" bash -c "'${KUBECTL[0]}' get pods -o name | grep -c '^pod/' | grep -qx 6"

finish
