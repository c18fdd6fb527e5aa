#!/usr/bin/env python3
"""Checks an OpenAPI document and sample responses against it.

    openapi_check.py DOC.json [SAMPLES.jsonl]

DOC.json is validated with openapi-spec-validator (the reference validator of the OpenAPI
Initiative's ecosystem). Each line of SAMPLES.jsonl is {"method", "path", "status", "body"}: the
templated path as the document writes it, the response status, and the JSON body the server
answered; the body is validated with jsonschema against the schema the document gives for that
operation, status and `application/json`. Exits 0 when everything is valid, 1 with one line per
problem otherwise, 2 on usage errors.
"""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource

DOC_URI = "urn:headroom:openapi"


def schema_for(doc, method, path, status):
    op = doc.get("paths", {}).get(path, {}).get(method.lower())
    if op is None:
        return None, f"{method} {path}: no such operation"
    responses = op.get("responses", {})
    resp = responses.get(str(status)) or responses.get("default")
    if resp is None:
        return None, f"{method} {path}: status {status} is not documented"
    if "$ref" in resp:
        name = resp["$ref"].rsplit("/", 1)[-1]
        resp = doc["components"]["responses"][name]
    content = resp.get("content", {}).get("application/json")
    if content is None or "schema" not in content:
        return None, f"{method} {path} {status}: no application/json schema"
    return content["schema"], None


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        doc = json.load(f)
    problems = []
    try:
        validate(doc)
    except Exception as e:  # the validator raises its own error types
        problems.append(f"document: {e}")
    if len(argv) == 3:
        # `#/components/...` references resolve against the document itself.
        registry = Registry().with_resource(DOC_URI, Resource.opaque(doc))
        with open(argv[2]) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                sample = json.loads(line)
                schema, problem = schema_for(doc, sample["method"], sample["path"], sample["status"])
                if problem:
                    problems.append(f"sample {n}: {problem}")
                    continue
                validator = Draft202012Validator(pointed_at_doc(schema), registry=registry)
                for err in sorted(validator.iter_errors(sample["body"]), key=str):
                    where = "/".join(str(p) for p in err.absolute_path) or "(body)"
                    problems.append(
                        f"sample {n} {sample['method']} {sample['path']} {sample['status']}: "
                        f"{where}: {err.message}"
                    )
    for p in problems:
        print(p)
    return 1 if problems else 0


def pointed_at_doc(node):
    """The schema with its local `#/components/...` references pointed at the document."""
    if isinstance(node, dict):
        return {
            k: DOC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#/")
            else pointed_at_doc(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [pointed_at_doc(v) for v in node]
    return node


if __name__ == "__main__":
    sys.exit(main(sys.argv))
