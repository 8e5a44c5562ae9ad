#!/usr/bin/env bash
# Bad input, errors as Status objects, lists, pagination, watches and 410.
# Usage: api_errors.sh path/to/meshsim
. "$(dirname "$0")/lib.sh"
MESHSIM=${1:?usage: api_errors.sh MESHSIM}

# HTTP/1.1 here (keep-alive, chunked watches); scenarios.sh speaks h2.
CURL_HTTP=--http1.1
meshsim_start "$MESHSIM"
NS=/api/v1/namespaces/demo
EF=/apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters

# Raw bytes over TLS, for requests curl refuses to send.
raw() {
    python3 - "$SERVER" "$MESHSIM_DIR" "$1" <<'PY'
import socket, ssl, sys
host, port = sys.argv[1].split("//")[1].split(":")
d = sys.argv[2]
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
ctx.load_cert_chain(d + "/cert.pem", d + "/key.pem")
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10), server_hostname="127.0.0.1")
s.sendall(sys.argv[3].encode().decode("unicode_escape").encode("latin-1"))
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except (ssl.SSLError, ConnectionResetError):
        break
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("latin-1"))
PY
}
raw_status() { raw "$1" | head -n 1 | grep -q "^HTTP/1.1 $2 "; }
raw_body_status() { raw "$1" | tail -n 1 | grep -q "\"code\":$2}"; }

check "malformed request line -> 400" raw_status 'GARBAGE\r\n\r\n' 400
check "malformed request is a Status" raw_body_status 'GARBAGE\r\n\r\n' 400
check "bad header -> 400" raw_status 'GET /api HTTP/1.1\r\nno colon here\r\n\r\n' 400
check "bad Content-Length -> 400" raw_status 'POST /api HTTP/1.1\r\nContent-Length: -5\r\n\r\n' 400
check "bad chunk -> 400" raw_status 'POST /api HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n' 400
check "huge declared body -> 413" raw_status 'POST /api HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n' 413
check "bad query escape -> 400" raw_status 'GET /api?x=%zz HTTP/1.1\r\n\r\n' 400
check "HTTP/2 preface without ALPN h2 -> 400" raw_status 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' 400
two_answers() {
    [ "$(raw 'GET /version HTTP/1.1\r\nHost: x\r\n\r\nGET /version HTTP/1.1\r\nConnection: close\r\n\r\n' | grep -o 'HTTP/1.1 200' | wc -l)" -eq 2 ]
}
check "keep-alive serves two requests" two_answers

expect_code "unknown path" 404 GET /nope
check "unknown path Status" is_status 404 NotFound
expect_code "unknown resource" 404 GET /api/v1/namespaces/demo/widgets
expect_code "unknown group" 404 GET /apis/example.com/v1
expect_code "missing pod" 404 GET "$NS/pods/nope"
check "missing pod Status names it" bash -c "grep -q 'pods \\\\\"nope\\\\\" not found' '$MESHSIM_DIR/body'"
expect_code "PUT on a pod" 405 PUT "$NS/pods/nope" -H 'Content-Type: application/json' -d '{}'
check "405 Status" is_status 405 MethodNotAllowed
expect_code "POST of a pod" 405 POST "$NS/pods" -H 'Content-Type: application/json' -d '{}'
expect_code "wrong content type" 415 POST "$EF" -H 'Content-Type: text/plain' -d 'x'
check "415 Status" is_status 415 UnsupportedMediaType
expect_code "strategic merge on a custom resource" 415 PATCH "$EF/x" -H 'Content-Type: application/strategic-merge-patch+json' -d '{}'
head -c 1100000 /dev/zero | tr '\0' 'a' >"$MESHSIM_DIR/big"
expect_code "1 MiB+ body" 413 POST "$EF" -H 'Content-Type: application/json' --data-binary @"$MESHSIM_DIR/big"
check "413 Status" is_status 413 RequestEntityTooLarge
expect_code "1 MiB+ chunked body" 413 POST "$EF" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @"$MESHSIM_DIR/big"
expect_code "JSON syntax error" 400 POST "$EF" -H 'Content-Type: application/json' -d '{"kind":'
check "400 Status" is_status 400 BadRequest
expect_code "wrong kind in body" 400 POST "$EF" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"networking.istio.io/v1alpha3","kind":"WasmPlugin","metadata":{"name":"x"}}'
expect_code "invalid name" 422 POST "$EF" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"networking.istio.io/v1alpha3","kind":"EnvoyFilter","metadata":{"name":"Bad_Name"}}'
check "422 Status with causes" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["code"] == 422 and s["reason"] == "Invalid" and s["details"]["causes"][0]["field"] == "metadata.name"
' "$MESHSIM_DIR/body"
expect_code "unknown applyTo" 422 POST "$EF" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"networking.istio.io/v1alpha3","kind":"EnvoyFilter","metadata":{"name":"x"},"spec":{"configPatches":[{"applyTo":"NOPE"}]}}'
EFBODY='{"apiVersion":"networking.istio.io/v1alpha3","kind":"EnvoyFilter","metadata":{"name":"ef1"},"spec":{"configPatches":[]}}'
expect_code "create" 201 POST "$EF" -H 'Content-Type: application/json' -d "$EFBODY"
expect_code "create again" 409 POST "$EF" -H 'Content-Type: application/json' -d "$EFBODY"
check "409 Status" is_status 409 AlreadyExists
expect_code "YAML create" 201 POST "$EF" -H 'Content-Type: application/yaml' \
    --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ef2\nspec:\n  priority: 3\n'
expect_code "merge patch" 200 PATCH "$EF/ef2" -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"priority":5}}'
check "merge patch applied, generation moved" python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["spec"]["priority"] == 5 and o["metadata"]["generation"] == 2, o
' "$MESHSIM_DIR/body"
expect_code "JSON patch" 200 PATCH "$EF/ef2" -H 'Content-Type: application/json-patch+json' \
    -d '[{"op":"test","path":"/spec/priority","value":5},{"op":"replace","path":"/spec/priority","value":7},{"op":"add","path":"/metadata/labels","value":{"a/b":"c"}},{"op":"copy","from":"/spec/priority","path":"/spec/copied"}]'
check_py "JSON patch applied" "$MESHSIM_DIR/body" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["spec"]["priority"] == 7 and o["spec"]["copied"] == 7 and o["metadata"]["labels"] == {"a/b": "c"}, o
PY
expect_code "JSON patch test fails" 422 PATCH "$EF/ef2" -H 'Content-Type: application/json-patch+json' -d '[{"op":"test","path":"/spec/priority","value":1}]'
expect_code "JSON patch on a missing path" 422 PATCH "$EF/ef2" -H 'Content-Type: application/json-patch+json' -d '[{"op":"remove","path":"/nope/x"}]'
expect_code "JSON patch that is not a list" 400 PATCH "$EF/ef2" -H 'Content-Type: application/json-patch+json' -d '{"op":"add"}'
expect_code "apply without fieldManager" 422 PATCH "$EF/ef3" -H 'Content-Type: application/apply-patch+yaml' -d "$EFBODY"
expect_code "apply with another name" 400 PATCH "$EF/ef3?fieldManager=t" -H 'Content-Type: application/apply-patch+yaml' -d "$EFBODY"
expect_code "apply creates" 201 PATCH "$EF/ef1x?fieldManager=a" -H 'Content-Type: application/apply-patch+yaml' \
    --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ef1x\nspec:\n  priority: 1\n'
expect_code "apply by another manager conflicts" 409 PATCH "$EF/ef1x?fieldManager=b" -H 'Content-Type: application/apply-patch+yaml' \
    --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ef1x\nspec:\n  priority: 2\n'
check "conflict Status" is_status 409 Conflict
expect_code "forced apply takes over" 200 PATCH "$EF/ef1x?fieldManager=b&force=true" -H 'Content-Type: application/apply-patch+yaml' \
    --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ef1x\nspec:\n  priority: 2\n'
expect_code "force=True (the Python client's spelling) takes over too" 200 PATCH "$EF/ef1x?fieldManager=a&force=True" \
    -H 'Content-Type: application/apply-patch+yaml' \
    --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ef1x\nspec:\n  priority: 3\n'
expect_code "stale resourceVersion on update" 409 PUT "$EF/ef1" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"networking.istio.io/v1alpha3","kind":"EnvoyFilter","metadata":{"name":"ef1","resourceVersion":"1"}}'
# Field sets hold leaves: a manager that applied only spec owns no part of
# metadata, so another may add labels; a forced takeover of the labels
# leaves the loser nothing, and a manager owning nothing is dropped.
APPLY=(-H 'Content-Type: application/apply-patch+yaml')
expect_code "apply of spec only" 201 PATCH "$EF/ssa1?fieldManager=specs" "${APPLY[@]}" \
    --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ssa1\nspec:\n  priority: 1\n'
expect_code "another manager adds labels: no conflict" 200 PATCH "$EF/ssa1?fieldManager=labeller" "${APPLY[@]}" \
    --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ssa1\n  labels:\n    team: a\n'
expect_code "a third takes the label by force" 200 PATCH "$EF/ssa1?fieldManager=taker&force=true" "${APPLY[@]}" \
    --data-binary $'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ssa1\n  labels:\n    team: b\n'
check_py "managedFields: leaves only, no empty parents left behind" "$MESHSIM_DIR/body" <<'PY'
import json, sys
mf = {e["manager"]: e.get("fieldsV1") for e in json.load(open(sys.argv[1]))["metadata"]["managedFields"]}
assert mf["specs"] == {"f:spec": {"f:priority": {}}}, mf
assert "labeller" not in mf, mf
assert mf["taker"] == {"f:metadata": {"f:labels": {"f:team": {}}}}, mf
PY
# fieldValidation=Strict refuses unknown fields; other values are 422.
DEPLOY=/apis/apps/v1/namespaces/demo/deployments
TYPO='{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"typo"},"spec":{"replica":2,"selector":{"matchLabels":{"app":"typo"}},"template":{"metadata":{"labels":{"app":"typo"}},"spec":{"containers":[{"name":"c","image":"nginx","imagePullPolicyy":"Always"}]}}}}'
expect_code "Strict: an unknown field is refused" 400 POST "$DEPLOY?fieldValidation=Strict" -H 'Content-Type: application/json' -d "$TYPO"
check "  named as the API server names it" grep -q 'strict decoding error: unknown field \\"spec.replica\\"' "$MESHSIM_DIR/body"
expect_code "Strict: unknown fields deep in a container" 400 POST "$DEPLOY?fieldValidation=Strict" -H 'Content-Type: application/json' \
    -d "${TYPO/\"replica\":2,/}"
check "  named with its index" grep -q 'spec.template.spec.containers\[0\].imagePullPolicyy' "$MESHSIM_DIR/body"
expect_code "Strict on a strategic merge patch" 400 PATCH "$DEPLOY/frontend?fieldValidation=Strict" \
    -H 'Content-Type: application/strategic-merge-patch+json' -d '{"spec":{"replcas":3}}'
expect_code "Strict on a custom resource" 400 POST "$EF?fieldValidation=Strict" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"networking.istio.io/v1alpha3","kind":"EnvoyFilter","metadata":{"name":"strict"},"spec":{"priorty":1}}'
warned() { kcurl -D - -o /dev/null -X POST -H 'Content-Type: application/json' -d "$TYPO" "$SERVER$DEPLOY?dryRun=All" | tr -d '\r' | grep -qix 'Warning: 299 - "unknown field \\"spec.replica\\""'; }
check "Warn, the default: let through with a Warning header" warned
expect_code "fieldValidation of an unknown kind" 422 POST "$DEPLOY?fieldValidation=Loose" -H 'Content-Type: application/json' -d "$TYPO"
expect_code "Ignore: the unknown field is let through (a dry run: the pods stay six)" 201 \
    POST "$DEPLOY?fieldValidation=Ignore&dryRun=All" -H 'Content-Type: application/json' -d "$TYPO"
expect_code "dryRun other than All" 422 POST "$EF?dryRun=yes" -H 'Content-Type: application/json' -d "$EFBODY"
check_py "dryRun names the options and the allowed value" "$MESHSIM_DIR/body" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
m = s["message"]
assert s["reason"] == "Invalid" and m.startswith('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"yes"}'), s
assert m.endswith('supported values: "All"'), s
PY
expect_code "dry-run delete" 200 DELETE "$EF/ef1?dryRun=All"
expect_code "  left it there" 200 GET "$EF/ef1"
expect_code "delete" 200 DELETE "$EF/ef1"
expect_code "delete again" 404 DELETE "$EF/ef1"
# A DeleteOptions body is decoded first: JSON that does not fit the type
# is a 500 without a reason (kubernetes handlers/delete.go hands the
# decoder's error on as it is), then the options are validated (422), and
# only then is the object looked up. A body's options are the only ones:
# the query's dryRun no longer counts.
JSONBODY=(-H 'Content-Type: application/json')
expect_code "DeleteOptions that are not JSON" 500 DELETE "$EF/ef2" "${JSONBODY[@]}" -d '{"preconditions":'
check "  a Status without a reason" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "Status" and "reason" not in s and s["message"].startswith("couldn'"'"'t get version/kind; json parse error: "), s
' "$MESHSIM_DIR/body"
expect_code "preconditions of the wrong type" 500 DELETE "$EF/ef2" "${JSONBODY[@]}" -d '{"preconditions":{"uid":5}}'
check "  named as encoding/json names it" grep -q 'json: cannot unmarshal number into Go struct field Preconditions.preconditions.uid of type types.UID' "$MESHSIM_DIR/body"
expect_code "  and nothing was deleted" 200 GET "$EF/ef2"
expect_code "a propagationPolicy nobody knows" 422 DELETE "$EF/ef2" "${JSONBODY[@]}" \
    -d '{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1","propagationPolicy":"Sideways","dryRun":["All","no"]}'
check_py "  every error of the options, in one Status" "$MESHSIM_DIR/body" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["reason"] == "Invalid" and s["message"] == (
    'DeleteOptions.meta.k8s.io "" is invalid: [propagationPolicy: Unsupported value: "Sideways": supported values: '
    '"Foreground", "Background", "Orphan", "nil", dryRun: Unsupported value: []string{"All", "no"}: supported values: "All"]'), s
PY
expect_code "a body's dryRun is the one that counts" 200 DELETE "$EF/ef2?dryRun=All" "${JSONBODY[@]}" -d '{"dryRun":[]}'
expect_code "  (so it is gone)" 404 GET "$EF/ef2"
# DELETE of a collection (deletecollection) deletes what the selectors
# select and answers with the list as it was; libcurl makes the URL of an
# object named "." (envoyfilters/.) that collection's, so such a name
# deletes every EnvoyFilter of the namespace.
for name in batch-a batch-b keeper; do
    label=$([ "$name" = keeper ] && echo keep || echo batch)
    expect_code "create $name" 201 POST "$EF" "${JSONBODY[@]}" \
        -d '{"apiVersion":"networking.istio.io/v1alpha3","kind":"EnvoyFilter","metadata":{"name":"'$name'","labels":{"set":"'$label'"}},"spec":{}}'
done
expect_code "deletecollection by label" 200 DELETE "$EF?labelSelector=set%3Dbatch"
check_py "  answers the list it deleted" "$MESHSIM_DIR/body" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))
assert l["kind"] == "EnvoyFilterList" and [i["metadata"]["name"] for i in l["items"]] == ["batch-a", "batch-b"], l
PY
expect_code "  they are gone" 404 GET "$EF/batch-a"
expect_code "  the unselected one stays" 200 GET "$EF/keeper"
expect_code "a collection's DELETE honours preconditions too" 409 DELETE "$EF" "${JSONBODY[@]}" \
    -d '{"preconditions":{"uid":"not-this-one"}}'
expect_code "  so the keeper stays" 200 GET "$EF/keeper"
expect_code "DELETE .../envoyfilters/. is the collection's DELETE" 200 DELETE "$EF/."
expect_code "  and deleted the keeper" 404 GET "$EF/keeper"
expect_code "no deletecollection across namespaces" 405 DELETE /apis/networking.istio.io/v1alpha3/envoyfilters

# Authentication.
check "no credentials -> 401" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' --cacert '$MESHSIM_DIR/ca.pem' '$SERVER/api/v1/pods') = 401 ]"
check "wrong token -> 401" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' --cacert '$MESHSIM_DIR/ca.pem' -H 'Authorization: Bearer nope' '$SERVER/api/v1/pods') = 401 ]"
check "version is public" bash -c "curl -sf --cacert '$MESHSIM_DIR/ca.pem' '$SERVER/version' | grep -q gitVersion"

# Lists: selectors and pagination.
expect_code "list" 200 GET "$NS/pods"
check "list has 6 pods without kind per item" python3 -c '
import json, sys
l = json.load(open(sys.argv[1]))
assert l["kind"] == "PodList" and len(l["items"]) == 6 and "kind" not in l["items"][0]
' "$MESHSIM_DIR/body"
expect_code "set-based selector" 200 GET "$NS/pods?labelSelector=app+in+(cart,checkout),version!=v2"
check "set-based selector picks 4" python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))["items"]) == 4' "$MESHSIM_DIR/body"
expect_code "bad selector" 400 GET "$NS/pods?labelSelector=app+in+cart"
expect_code "bad field selector" 400 GET "$NS/pods?fieldSelector=spec.nodeNam%3Dx"
check "unsupported field named" grep -q 'field label not supported: spec.nodeNam' "$MESHSIM_DIR/body"
expect_code "pod field selector" 200 GET "$NS/pods?fieldSelector=status.phase%3DRunning,spec.nodeName!%3Dother"
check_py "status.phase selects running pods" "$MESHSIM_DIR/body" <<'PY'
import json, sys
assert len(json.load(open(sys.argv[1]))["items"]) == 6
PY
expect_code "pod-only field on deployments" 400 GET "/apis/apps/v1/namespaces/demo/deployments?fieldSelector=status.phase%3DRunning"
expect_code "page 1" 200 GET "$NS/pods?limit=4"
cont=$(python3 -c '
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l["items"]) == 4 and l["metadata"]["remainingItemCount"] == 2
print(l["metadata"]["continue"])' "$MESHSIM_DIR/body")
check "continue token given" test -n "$cont"
expect_code "page 2" 200 GET "$NS/pods?limit=4&continue=$cont"
check "page 2 has the rest" python3 -c '
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l["items"]) == 2 and "continue" not in l["metadata"]' "$MESHSIM_DIR/body"
expect_code "bad continue" 400 GET "$NS/pods?limit=4&continue=garbage"

# Watch: a patch is seen, bookmarks come, an old version is 410.
rv=$(kcurl "$SERVER$NS/pods" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
kcurl -N --max-time 6 "$SERVER$NS/pods?watch=1&resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=5" >"$MESHSIM_DIR/watch" &
watcher=$!
sleep 0.5
kcurl -o /dev/null -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
    -d '{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"}}}}}' \
    "$SERVER/apis/apps/v1/namespaces/demo/deployments/cart"
wait "$watcher"
check_py "watch: added, modified, deleted, bookmark" "$MESHSIM_DIR/watch" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
types = {e["type"] for e in events}
assert {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"} <= types, types
added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
assert len(added) == 2 and all(n.startswith("cart-") for n in added), added
assert all(e["object"]["kind"] == "Pod" for e in events)
PY
kcurl -N --max-time 5 "$SERVER$NS/pods?watch=1&resourceVersion=1" >"$MESHSIM_DIR/watch410"
check_py "watch from a compacted version: ERROR 410 Expired" "$MESHSIM_DIR/watch410" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(events) == 1 and events[0]["type"] == "ERROR", events
s = events[0]["object"]
assert s["kind"] == "Status" and s["code"] == 410 and s["reason"] == "Expired", s
PY
kcurl -N --max-time 5 "$SERVER$NS/pods?watch=1&timeoutSeconds=1" >"$MESHSIM_DIR/watch0"
check "watch without a version starts with the current pods" bash -c "[ \$(grep -c '\"type\":\"ADDED\"' '$MESHSIM_DIR/watch0') -ge 6 ]"
expect_code "watch with a bad version" 400 GET "$NS/pods?watch=1&resourceVersion=abc"
# Bookmarks: about once a minute and 2 s before the deadline, so one here.
kcurl -N --max-time 8 "$SERVER$NS/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=5&resourceVersion=$(kcurl "$SERVER$NS/pods" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')" >"$MESHSIM_DIR/watchbm"
check "one bookmark in a 5 s watch, not one every 2 s" test "$(grep -c '"type":"BOOKMARK"' "$MESHSIM_DIR/watchbm")" -eq 1
kcurl -N --max-time 5 "$SERVER$NS/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1" >"$MESHSIM_DIR/watchinit"
check_py "sendInitialEvents: the pods, then a bookmark marked initial-events-end" "$MESHSIM_DIR/watchinit" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
types = [e["type"] for e in events]
assert types[:6] == ["ADDED"] * 6 and types[6] == "BOOKMARK", types
assert events[6]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}, events[6]
PY
expect_code "sendInitialEvents without resourceVersionMatch" 422 GET "$NS/pods?watch=1&sendInitialEvents=true"
check "  says what it needs" grep -q 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan' "$MESHSIM_DIR/body"
expect_code "resourceVersionMatch on a watch without sendInitialEvents" 422 GET "$NS/pods?watch=1&resourceVersionMatch=NotOlderThan"
expect_code "resourceVersionMatch without resourceVersion" 422 GET "$NS/pods?resourceVersionMatch=Exact"
expect_code "resourceVersionMatch of an unknown kind" 422 GET "$NS/pods?resourceVersionMatch=Newest&resourceVersion=1"
expect_code "Exact at an old version: compacted" 410 GET "$NS/pods?resourceVersionMatch=Exact&resourceVersion=1"
expect_code "NotOlderThan a future version" 504 GET "$NS/pods?resourceVersionMatch=NotOlderThan&resourceVersion=999999999"
cur_rv=$(kcurl "$SERVER$NS/pods" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
expect_code "NotOlderThan an old version" 200 GET "$NS/pods?resourceVersionMatch=NotOlderThan&resourceVersion=1"
expect_code "sendInitialEvents on a list" 422 GET "$NS/pods?sendInitialEvents=true&resourceVersion=$cur_rv"
# Booleans as the API server reads them: all but 0/false (any case) is true.
kcurl -N --max-time 5 "$SERVER$NS/pods?watch=True&timeoutSeconds=1" >"$MESHSIM_DIR/watchTrue"
check "watch=True (the Python client's spelling) watches" bash -c "[ \$(grep -c '\"type\":\"ADDED\"' '$MESHSIM_DIR/watchTrue') -ge 6 ]"
expect_code "watch=FALSE lists" 200 GET "$NS/pods?watch=FALSE"
check "watch=FALSE gives a PodList" grep -q '"kind":"PodList"' "$MESHSIM_DIR/body"
# Paths are percent-decoded before routing, as Go's net/http does.
enc_pod=$(kcurl "$SERVER$NS/pods" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["metadata"]["name"])')
expect_code "percent-encoded pod proxy path" 200 GET "$NS/pods/$enc_pod%3A15090/proxy/stats%2Fprometheus"
check "it reaches the sidecar's stats" grep -q '^# TYPE envoy_server_live gauge' "$MESHSIM_DIR/body"
expect_code "percent-encoded resource name" 200 GET "$NS/pod%73/$enc_pod"
expect_code "bad escape in the path" 400 GET "$NS/pods/x%zz"

# Discovery answers kubectl relies on.
expect_code "/api" 200 GET /api
expect_code "/apis" 200 GET /apis
check_py "discovery lists the groups" "$MESHSIM_DIR/body" <<'PY'
import json, sys
g = {x["name"] for x in json.load(open(sys.argv[1]))["groups"]}
assert {"apps", "networking.istio.io", "extensions.istio.io", "authorization.k8s.io"} <= g, g
PY
expect_code "/api/v1" 200 GET /api/v1
check "pods/proxy in discovery" grep -q '"pods/proxy"' "$MESHSIM_DIR/body"
expect_code "wasmplugins group version" 200 GET /apis/extensions.istio.io/v1alpha1
expect_code "access review" 201 POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews -H 'Content-Type: application/json' \
    -d '{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"get","resource":"pods","subresource":"proxy","namespace":"demo"}}}'
check "access allowed" grep -q '"allowed":true' "$MESHSIM_DIR/body"
expect_code "access review without attributes" 422 POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews -H 'Content-Type: application/json' -d '{"spec":{}}'
expect_code "garbage protobuf review" 400 POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews -H 'Content-Type: application/vnd.kubernetes.protobuf' -d 'k8s'


# Random requests: mutated request bytes over HTTP/1.1, then random
# methods, paths, content types and bodies over h2. None may crash it.
check_py "random HTTP/1.1 bytes answered or closed" "$SERVER" "$MESHSIM_DIR" <<'PY'
import random, socket, ssl, sys
host, port = sys.argv[1].split("//")[1].split(":")
d = sys.argv[2]
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
ctx.load_cert_chain(d + "/cert.pem", d + "/key.pem")
rnd = random.Random(1)
base = [b"GET /api/v1/namespaces/demo/pods?limit=2&labelSelector=app%3Dcart HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /apis/networking.istio.io/v1alpha3/namespaces/demo/envoyfilters HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"apiVersion\":\"networking.istio.io/v1alpha3\",\"kind\":\"EnvoyFilter\"}",
        b"PATCH /apis/apps/v1/namespaces/demo/deployments/cart HTTP/1.1\r\nContent-Type: application/strategic-merge-patch+json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"]
for i in range(300):
    msg = bytearray(rnd.choice(base))
    for _ in range(rnd.randint(1, 8)):
        op = rnd.randint(0, 2)
        pos = rnd.randrange(len(msg))
        if op == 0:
            msg[pos] = rnd.randrange(256)
        elif op == 1:
            del msg[pos:pos + rnd.randint(1, 10)]
        else:
            msg[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 10)))
    s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=2), server_hostname="127.0.0.1")
    s.sendall(bytes(msg))
    s.shutdown(socket.SHUT_WR)  # an incomplete request then ends the connection
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, ssl.SSLError, ConnectionResetError, OSError):
        pass
    s.close()
PY
check_py "random h2 frames answered or closed" "$SERVER" "$MESHSIM_DIR" <<'PY'
import random, socket, ssl, struct, sys
host, port = sys.argv[1].split("//")[1].split(":")
d = sys.argv[2]
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
ctx.load_cert_chain(d + "/cert.pem", d + "/key.pem")
ctx.set_alpn_protocols(["h2"])
rnd = random.Random(3)
preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload
# HPACK literal headers without indexing: :method GET, :path /api, then junk.
hdrs = b"\x00\x07:method\x03GET\x00\x05:path\x04/api"
for i in range(200):
    frames = [frame(4, 0, 0, b""), frame(1, 5, 1, hdrs), frame(0, 1, 3, b"x" * 10),
              frame(1, 4, 5, hdrs[:rnd.randrange(len(hdrs))]), frame(8, 0, 0, b"\x00\x00\xff\xff"),
              frame(3, 0, 1, b"\x00\x00\x00\x08"), frame(7, 0, 0, b"\x00" * 8)]
    msg = bytearray(preface + b"".join(rnd.sample(frames, rnd.randint(1, len(frames)))))
    for _ in range(rnd.randint(0, 6)):
        pos = rnd.randrange(len(preface), len(msg))
        msg[pos] = rnd.randrange(256)
    s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=2), server_hostname="127.0.0.1")
    assert s.selected_alpn_protocol() == "h2"
    s.sendall(bytes(msg))
    s.shutdown(socket.SHUT_WR)
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, ssl.SSLError, ConnectionResetError, OSError):
        pass
    s.close()
PY
python3 - "$SERVER" >"$MESHSIM_DIR/random.cfg" <<'PY'
import random, sys
rnd = random.Random(2)
segs = ["api", "apis", "v1", "namespaces", "demo", "pods", "proxy", "x:15090", "stats", "prometheus", "apps",
        "deployments", "cart", "networking.istio.io", "v1alpha3", "envoyfilters", "%2e%2e", "status", "watch", ""]
types = ["application/json", "application/yaml", "application/apply-patch+yaml", "application/merge-patch+json",
         "application/strategic-merge-patch+json", "application/vnd.kubernetes.protobuf", "text/plain"]
bodies = ["", "{", "{}", "null", "[1,2]", "a: [", "k8s\u0000\u0012", '{"metadata":{"name":"x"},"spec":"s"}',
          "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"]
for i in range(150):
    path = "/" + "/".join(rnd.choice(segs) for _ in range(rnd.randint(1, 9)))
    query = "&".join(rnd.choice(["watch=1", "limit=1", "continue=%ff", "labelSelector=a+in+(", "fieldManager=f",
                                  "timeoutSeconds=1", "resourceVersion=5", "filter=(", "usedonly"]) for _ in range(rnd.randint(0, 3)))
    print('url = "%s%s?%s"' % (sys.argv[1], path, query))
    print('request = "%s"' % rnd.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]))
    print('header = "Content-Type: %s"' % rnd.choice(types))
    print('data = %s' % __import__("json").dumps(rnd.choice(bodies)))
    print('output = "/dev/null"')
PY
kcurl --no-progress-meter --parallel --parallel-max 20 --max-time 5 -K "$MESHSIM_DIR/random.cfg" >/dev/null 2>&1
alive() { [ "$(http_code GET /version)" = 200 ]; }
check "still serving after random requests" alive

# Parallel connections resume TLS sessions (with the client certificate).
resumed_sessions_ok() {
    local urls=()
    for _ in $(seq 24); do urls+=("$SERVER/api/v1/namespaces/demo/pods?limit=1"); done
    [ "$(kcurl --no-progress-meter --parallel --parallel-max 8 -w '%{http_code}\n' -o /dev/null "${urls[@]}" 2>/dev/null | grep -c '^200$')" -eq 24 ]
}
check "TLS session resumption across parallel connections" resumed_sessions_ok
h1_used() { [ "$(kcurl -o /dev/null -w '%{http_version}' "$SERVER/version")" = 1.1 ]; }
check "these checks ran over HTTP/1.1" h1_used
check "meshsim still alive" kill -0 "$MESHSIM_PID"
finish
