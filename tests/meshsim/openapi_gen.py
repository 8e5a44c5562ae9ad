#!/usr/bin/env python3
"""Turns tests/meshsim/openapi.txt into C: per group version, the JSON of
the `components.schemas` its /openapi/v3 document holds (the kinds of that
group version and every schema they reach, as the API server's
k8s.io/kube-openapi handler3 serves one document per group version); and
the same patch metadata as tables for meshsim's strategic merge patch.

    openapi_gen.py openapi.txt out.c
"""
import json
import sys

PRIMITIVES = {
    "string": {"type": "string"},
    "integer": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "number": {"type": "number", "format": "double"},
    "boolean": {"type": "boolean"},
    "time": {"type": "string", "format": "date-time"},
    "int-or-string": {"type": "string", "format": "int-or-string"},
    "map": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
    "quantities": {"type": "object", "additionalProperties": {"type": "string", "format": "quantity"}},
    "object": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}


def fail(lineno, message):
    sys.exit("openapi.txt:%d: %s" % (lineno, message))


def parse(path):
    """Schemas in file order: name -> {gvk, description, fields}."""
    schemas = {}
    current = None
    for lineno, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        head, sep, description = line.partition(" | ")
        if not sep:
            fail(lineno, "no ' | ' before the description")
        words = head.split()
        if words[0] == "=":
            if len(words) not in (2, 3):
                fail(lineno, "want '= NAME [GROUP/VERSION/KIND]'")
            gvk = None
            if len(words) == 3:
                group, version, kind = words[2].split("/")
                gvk = {"group": "" if group == "-" else group, "version": version, "kind": kind}
            current = {"gvk": gvk, "description": description, "fields": [], "line": lineno}
            schemas[words[1]] = current
            continue
        if current is None:
            fail(lineno, "a field before any schema")
        if len(words) < 2:
            fail(lineno, "want 'FIELD TYPE [FLAGS]'")
        flags = {}
        for flag in words[2:]:
            key, _, value = flag.partition("=")
            if key not in ("required", "patch", "list"):
                fail(lineno, "unknown flag " + flag)
            flags[key] = value
        current["fields"].append((words[0], words[1], flags, description, lineno))
    return schemas


def main():
    source, out = sys.argv[1], sys.argv[2]
    schemas = parse(source)
    short = {}
    for name in schemas:
        last = name.rsplit(".", 1)[1]
        if last in short:
            sys.exit("openapi.txt: two schemas named %s" % last)
        short[last] = name

    def ref(type_name, lineno):
        if type_name not in short:
            fail(lineno, "no schema named " + type_name)
        return {"allOf": [{"$ref": "#/components/schemas/" + short[type_name]}], "default": {}}

    def type_schema(type_name, lineno):
        if type_name.startswith("[]"):
            return {"type": "array", "items": type_schema(type_name[2:], lineno)}
        if type_name in PRIMITIVES:
            return dict(PRIMITIVES[type_name])
        return ref(type_name, lineno)

    def refs_of(type_name):
        bare = type_name.lstrip("[]")
        return [] if bare in PRIMITIVES else [short[bare]]

    built = {}
    for name, s in schemas.items():
        out_schema = {"description": s["description"], "type": "object"}
        props, required = {}, []
        for field, type_name, flags, description, lineno in s["fields"]:
            f = type_schema(type_name, lineno)
            f["description"] = description
            if "patch" in flags:
                strategy, _, key = flags["patch"].partition(":")
                f["x-kubernetes-patch-strategy"] = strategy
                if key:
                    f["x-kubernetes-patch-merge-key"] = key
            if "list" in flags:
                list_type, _, keys = flags["list"].partition(":")
                f["x-kubernetes-list-type"] = list_type
                if keys:
                    f["x-kubernetes-list-map-keys"] = keys.split(",")
            if "required" in flags:
                required.append(field)
            props[field] = f
        if props:
            out_schema["properties"] = props
        if required:
            out_schema["required"] = required
        if s["gvk"]:
            out_schema["x-kubernetes-group-version-kind"] = [s["gvk"]]
        built[name] = out_schema

    by_gv = {}
    for name, s in schemas.items():
        gvk = s["gvk"]
        if not gvk:
            continue
        gv = ("apis/%s/%s" % (gvk["group"], gvk["version"])) if gvk["group"] else "api/" + gvk["version"]
        reach = by_gv.setdefault(gv, [])
        todo = [name]
        while todo:
            n = todo.pop()
            if n in reach:
                continue
            reach.append(n)
            for field in schemas[n]["fields"]:
                todo.extend(refs_of(field[1]))

    def c_string(value):
        return json.dumps(value) if value else "NULL"

    with open(out, "w", encoding="utf-8") as f:
        f.write("/* Generated by tests/meshsim/openapi_gen.py from tests/meshsim/openapi.txt. */\n")
        f.write('#include "openapi.h"\n\n#include <stddef.h>\n\n')
        f.write("const struct openapi_gv_schemas OPENAPI_SCHEMAS[] = {\n")
        for gv, names in sorted(by_gv.items()):
            doc = json.dumps({n: built[n] for n in sorted(names)}, separators=(",", ":"), sort_keys=True)
            f.write("    {%s, %s},\n" % (json.dumps(gv), json.dumps(doc)))
        f.write("    {NULL, NULL},\n};\n\n")
        f.write("const struct openapi_kind OPENAPI_KINDS[] = {\n")
        for name, s in schemas.items():
            if s["gvk"]:
                f.write("    {%s, %s, %s},\n" % (json.dumps(s["gvk"]["group"]), json.dumps(s["gvk"]["kind"]),
                                               json.dumps(name.rsplit(".", 1)[1])))
        f.write("    {NULL, NULL, NULL},\n};\n\n")
        # What a strategic merge patch needs: fields that lead to another
        # schema, and fields with a patch strategy.
        f.write("const struct openapi_patch_field OPENAPI_PATCH_FIELDS[] = {\n")
        for name, s in schemas.items():
            for field, type_name, flags, _, _ in s["fields"]:
                bare = type_name.lstrip("[]")
                ref = None if bare in PRIMITIVES else bare
                strategy, _, key = flags.get("patch", "").partition(":")
                if ref or strategy:
                    f.write("    {%s, %s, %s, %s, %s},\n" % (
                        json.dumps(name.rsplit(".", 1)[1]), json.dumps(field), c_string(ref),
                        c_string(strategy), c_string(key)))
        f.write("    {NULL, NULL, NULL, NULL, NULL},\n};\n")


if __name__ == "__main__":
    main()
