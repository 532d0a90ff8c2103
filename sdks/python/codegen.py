"""Generate the SDK's models and resources from crosspost's OpenAPI document.

    python sdks/python/codegen.py           # rewrite src/crosspost_sdk/models.py and _resources.py
    python sdks/python/codegen.py --check   # exit 1, naming the file, when either is stale

Models come from datamodel-code-generator; the resources (one method per operation, where
its `x-sdk-name` says: ``client.posts.targets.retry(post_id, target_id)``) are written here.
The document is the running code's (`crosspost.api.document`), or `--openapi FILE`.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "src" / "crosspost_sdk"
MODELS = PACKAGE / "models.py"
RESOURCES = PACKAGE / "_resources.py"

METHODS = ("get", "post", "put", "patch", "delete")
# Hand-written, in `_extras.py`: an event stream is read as it comes, never returned whole.
HAND_WRITTEN_TYPES = {"text/event-stream"}
# Namespaces whose generated class also takes methods written by hand (`_extras.py`).
EXTRAS = {
    "media": "Media",
    "posts": "Posts",
    "jobs": "Jobs",
    "events": "Events",
    "exports": "Exports",
}

_IDEMPOTENCY_HEADERS = {"idempotency-key", "x-idempotency-key"}


def ident(text: str) -> str:
    """A Python identifier for a path segment or a parameter name."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return name + "_" if keyword.iskeyword(name) or name in {"self", "body", "timeout"} else name


def camel(parts: list[str]) -> str:
    return "".join(word.capitalize() for part in parts for word in part.split("_"))


def class_name(schema_name: str) -> str:
    """The class datamodel-code-generator makes of a schema (checked after generating)."""
    return re.sub(r"[^0-9A-Za-z]", "", schema_name)


@dataclass
class Param:
    name: str  # as the API spells it
    arg: str  # as the method takes it
    annotation: str
    required: bool


@dataclass
class Operation:
    method: str
    path: str
    namespace: list[str]
    name: str
    summary: str
    path_params: list[Param]
    query: list[Param]
    headers: list[Param]
    idempotent: bool
    body: str | None  # "json", "form", "content"
    body_annotation: str
    body_required: bool
    content_types: list[str]
    returns: str  # annotation
    kind: str  # the parse target as an expression, "bytes" or "None"
    page_item: str | None


@dataclass
class Namespace:
    parts: list[str]
    operations: list[Operation] = field(default_factory=list)
    children: dict[str, Namespace] = field(default_factory=dict)


_SCHEMAS: dict[str, dict[str, Any]] = {}


def document_schemas() -> dict[str, dict[str, Any]]:
    """The document's component schemas (set by `generate`)."""
    return _SCHEMAS


def resolve(schema: dict[str, Any]) -> str:
    """A Python annotation for a parameter's schema."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        target = document_schemas().get(name, {})
        # Enums are Literal types inside the models, not classes: a parameter takes the string.
        return "str" if "enum" in target else "models." + class_name(name)
    if "anyOf" in schema:
        options = [resolve(s) for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = any(s.get("type") == "null" for s in schema["anyOf"])
        annotation = " | ".join(dict.fromkeys(options)) or "Any"
        return annotation + (" | None" if nullable else "")
    kind = schema.get("type")
    if kind == "array":
        return f"Sequence[{resolve(schema.get('items', {}))}]"
    if kind == "string" and schema.get("format") == "date-time":
        return "datetime | str"
    if kind == "string" and schema.get("format") == "date":
        return "date | str"
    return {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}.get(
        str(kind), "Any"
    )


def page_item(document: dict[str, Any], name: str) -> str | None:
    """The item class of a cursor page schema (`data`, `has_more`, `next_cursor`), else None."""
    schema = document["components"]["schemas"][name]
    fields = schema.get("properties", {})
    if not {"data", "has_more", "next_cursor"} <= set(fields):
        return None
    return resolve(fields["data"].get("items", {}))


def response_of(document: dict[str, Any], operation: dict[str, Any]) -> tuple[str, str, str | None]:
    """(annotation, parse target, page item) for an operation's success answer."""
    for status, answer in sorted(operation.get("responses", {}).items()):
        if not status.startswith("2"):
            continue
        content = answer.get("content") or {}
        if not content:
            return "None", "None", None
        if "application/json" not in content:
            return "bytes", "bytes", None
        schema = content["application/json"].get("schema") or {}
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            item = page_item(document, name)
            if item is not None:
                return f"Page[{item}]", f"models.{class_name(name)}", item
            return f"models.{class_name(name)}", f"models.{class_name(name)}", None
        if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
            item = "models." + class_name(schema["items"]["$ref"].rsplit("/", 1)[1])
            return f"builtins.list[{item}]", f"builtins.list[{item}]", None
        return "Any", "None", None
    return "None", "None", None


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    """Every operation the SDK offers, named."""
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method not in METHODS or _streams(operation):
                continue
            *namespace, name = operation["x-sdk-name"].split(".")
            params = operation.get("parameters", [])
            path_params: list[Param] = []
            query: list[Param] = []
            headers: list[Param] = []
            idempotent = False
            for param in params:
                annotation = resolve(param.get("schema", {}))
                required = bool(param.get("required"))
                where = param["in"]
                if where == "header" and param["name"].lower() in _IDEMPOTENCY_HEADERS:
                    idempotent = True
                    continue
                if where == "cookie":
                    continue
                made = Param(param["name"], ident(param["name"]), annotation, required)
                {"path": path_params, "query": query, "header": headers}[where].append(made)
            order = re.findall(r"{([^}]+)}", path)
            path_params.sort(key=lambda p: order.index(p.name))
            body, body_annotation, body_required, content_types = None, "", False, []
            request = operation.get("requestBody")
            if request:
                content_types = list(request.get("content", {}))
                first = content_types[0]
                schema = request["content"][first].get("schema", {})
                body_required = bool(request.get("required"))
                if first == "application/json":
                    body = "json"
                    ref = resolve(schema) if "$ref" in schema else None
                    body_annotation = f"{ref} | Mapping[str, Any]" if ref else "Any"
                elif first == "application/x-www-form-urlencoded":
                    body = "form"
                    ref = resolve(schema) if "$ref" in schema else None
                    body_annotation = f"{ref} | Mapping[str, Any]" if ref else "Mapping[str, Any]"
                else:
                    body = "content"
                    body_annotation = "bytes | Iterable[bytes]"
            returns, kind, item = response_of(document, operation)
            summary = operation.get("summary") or name.replace("_", " ").capitalize()
            description = (operation.get("description") or "").strip().split("\n\n")[0]
            text = summary if not description else f"{summary}.\n\n{description}"
            yield Operation(
                method, path, namespace, name, text, path_params, query, headers, idempotent,
                body, body_annotation, body_required, content_types, returns, kind, item,
            )  # fmt: skip


def _streams(operation: dict[str, Any]) -> bool:
    answers = operation.get("responses", {}).values()
    return any(set(a.get("content") or {}) & HAND_WRITTEN_TYPES for a in answers)


def tree(document: dict[str, Any]) -> Namespace:
    """The operations as nested namespaces, by their `x-sdk-name` (the server checks that
    names are unique: crosspost.api.sdk_names)."""
    root = Namespace([])
    for op in operations(document):
        node = root
        for part in op.namespace:
            node = node.children.setdefault(part, Namespace([*node.parts, part]))
        node.operations.append(op)
    return root


def walk(node: Namespace) -> Iterator[Namespace]:
    yield node
    for child in node.children.values():
        yield from walk(child)


def signature(op: Operation) -> str:
    args = ["self"]
    args += [f"{p.arg}: str" for p in op.path_params]
    if op.body:
        optional = "" if op.body_required else " | None = None"
        args.append(f"body: {op.body_annotation}{optional}")
    args.append("*")
    if op.body == "content" and len(op.content_types) > 1:
        args.append(f'content_type: str = "{op.content_types[0]}"')
    for p in [*op.query, *op.headers]:
        annotation = p.annotation if "None" in p.annotation else f"{p.annotation} | None"
        args.append(f"{p.arg}: {p.annotation}" if p.required else f"{p.arg}: {annotation} = None")
    if op.idempotent:
        args.append("idempotency_key: str | None = None")
    args.append("timeout: float | None = None")
    return ", ".join(args)


def body_lines(op: Operation, asynchronous: bool) -> list[str]:
    path = re.sub(r"{([^}]+)}", lambda m: "{segment(" + ident(m.group(1)) + ")}", op.path)
    fields = [f'"{op.method.upper()}"', f'f"{path}"' if "{" in path else f'"{path}"']
    if op.query:
        pairs = ", ".join(f'"{p.name}": {p.arg}' for p in op.query)
        fields.append(f"params={{{pairs}}}")
    headers = [f'"{p.name}": {p.arg}' for p in op.headers]
    given = {p.name.lower() for p in op.headers}
    if op.body == "content" and op.content_types and "content-type" not in given:
        ctype = "content_type" if len(op.content_types) > 1 else f'"{op.content_types[0]}"'
        headers.append(f'"Content-Type": {ctype}')
    if headers:
        fields.append(f"headers=_headers({{{', '.join(headers)}}})")
    if op.body == "json":
        fields.append(
            "json=None if body is None else dump(body)"
            if not op.body_required
            else "json=dump(body)"
        )
    elif op.body == "form":
        fields.append("data=form(body or {})")
    elif op.body == "content":
        fields.append("content=lambda: body, replayable=isinstance(body, bytes)")
    if op.idempotent:
        fields.append("idempotent=True, idempotency_key=idempotency_key")
    fields.append("timeout=timeout")
    call = f"Call({', '.join(fields)})"
    if op.page_item:
        names = {p.name for p in op.query}
        cursor = next((f'"{n}"' for n in ("cursor", "after") if n in names), "None")
        pager = "AsyncPager" if asynchronous else "Page"
        return [f"return {pager}(self._t, {call}, {op.kind}, {cursor})"]
    waiting = "await " if asynchronous else ""
    if op.returns == "None":
        return [f"{waiting}self._t.call({call}, None)"]
    if op.returns == "bytes":
        return [f"return ({waiting}self._t.send({call})).content"]
    return [f"return {waiting}self._t.call({call}, {op.kind})"]


def method_source(op: Operation, asynchronous: bool) -> str:
    returns = op.returns
    if op.page_item and asynchronous:
        returns = f"AsyncPager[{op.page_item}]"
    define = "async def" if asynchronous and not op.page_item else "def"
    doc = op.summary.replace('"""', "'''").replace("\\", "\\\\")
    lines = [
        f"{define} {op.name}({signature(op)}) -> {returns}:",
        textwrap.indent(f'"""{doc}\n\n{op.method.upper()} {op.path}\n"""', "    "),
        *("    " + line for line in body_lines(op, asynchronous)),
    ]
    return "\n".join(lines)


def class_source(node: Namespace, asynchronous: bool) -> str:
    prefix = "Async" if asynchronous else ""
    name = prefix + (camel(node.parts) or "Resources")
    base = "AsyncResource" if asynchronous else "SyncResource"
    extra = EXTRAS.get(".".join(node.parts))
    bases = f"{prefix}{extra}Extras, {base}" if extra else base
    transport = "AsyncTransport" if asynchronous else "Transport"
    doc = f"`{'.'.join(node.parts)}`" if node.parts else "Every group of the API"
    out = [f"class {name}({bases}):", f'    """{doc}."""', ""]
    if node.children:
        out.append(f"    def __init__(self, transport: {transport}) -> None:")
        out.append("        super().__init__(transport)")
        for child_name, child in node.children.items():
            child_class = prefix + camel(child.parts)
            out.append(f"        self.{child_name} = {child_class}(transport)")
        out.append("")
    for op in node.operations:
        out.append(textwrap.indent(method_source(op, asynchronous), "    "))
        out.append("")
    if not node.children and not node.operations:
        out.append("    pass")
    return "\n".join(out).rstrip() + "\n"


HEADER = '''"""Every endpoint of the API, grouped by resource. Generated by sdks/python/codegen.py from
the OpenAPI document: do not edit; change the API (or codegen.py) and regenerate."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from crosspost_sdk._extras import {extras}
from crosspost_sdk._resource import AsyncResource, SyncResource, dump, form, segment
from crosspost_sdk._transport import AsyncTransport, Call, Transport
from crosspost_sdk.pagination import AsyncPager, Page

if TYPE_CHECKING:
    from crosspost_sdk import models
else:  # named now, loaded when an answer is parsed (crosspost_sdk._lazy)
    from crosspost_sdk._lazy import models

__all__ = ["AsyncResources", "Resources"]


def _headers(values: Mapping[str, Any]) -> dict[str, str]:
    return {{name: str(value) for name, value in values.items() if value is not None}}


'''


def resources_source(document: dict[str, Any]) -> str:
    root = tree(document)
    nodes = list(walk(root))[::-1]  # children before parents: each class exists when used
    extras = sorted(f"{prefix}{name}Extras" for name in EXTRAS.values() for prefix in ("", "Async"))
    body = "\n\n".join(
        class_source(node, asynchronous) for asynchronous in (False, True) for node in nodes
    )
    used = {n for n in extras if n in body}
    header = HEADER.format(extras=", ".join(sorted(used)))
    return header + body


def models_source(document_path: Path) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "models.py"
        subprocess.run(
            [
                sys.executable, "-m", "datamodel_code_generator",
                "--input", str(document_path), "--input-file-type", "openapi",
                "--output", str(out), "--output-model-type", "pydantic_v2.BaseModel",
                "--disable-timestamp", "--target-python-version", "3.11",
                "--use-standard-collections", "--use-union-operator", "--use-annotated",
                "--collapse-root-models", "--use-schema-description", "--use-double-quotes",
                "--extra-fields", "allow", "--formatters", "ruff-format",
                "--enum-field-as-literal", "all",
            ],
            check=True,
        )  # fmt: skip
        text = out.read_text(encoding="utf-8")
    return text.replace(
        "# generated by datamodel-codegen:\n#   filename:  " + document_path.name,
        '"""The API\'s models. Generated by sdks/python/codegen.py (datamodel-code-generator)\n'
        'from the OpenAPI document: do not edit."""',
    )


def formatted(text: str, name: str) -> str:
    """`text` as ruff formats it with the project's settings."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--line-length", "100", "--stdin-filename", name, "-"],
        input=text, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def load_document(path: Path | None) -> dict[str, Any]:
    if path is not None:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document
    from crosspost.api.document import openapi_document  # noqa: PLC0415 - the server's, if here

    return openapi_document()


def generate(document: dict[str, Any]) -> dict[Path, str]:
    """The generated files' contents, by path."""
    _SCHEMAS.clear()
    _SCHEMAS.update(document["components"]["schemas"])
    with tempfile.TemporaryDirectory() as scratch:
        spec = Path(scratch) / "openapi.json"
        spec.write_text(json.dumps(document), encoding="utf-8")
        models = formatted(models_source(spec), "models.py")
    missing = [
        name
        for name, schema in document["components"]["schemas"].items()
        if "enum" not in schema and f"class {class_name(name)}(" not in models
    ]
    if missing:
        raise SystemExit(f"codegen: no model class for schemas {missing}; extend class_name()")
    return {MODELS: models, RESOURCES: formatted(resources_source(document), "_resources.py")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a file would change")
    parser.add_argument("--openapi", type=Path, help="the document (default: the server's)")
    args = parser.parse_args(argv)
    files = generate(load_document(args.openapi))
    stale = [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    if args.check:
        for path in stale:
            print(f"codegen: {path.relative_to(HERE)} is stale; run python sdks/python/codegen.py")
        return 1 if stale else 0
    for path in stale:
        path.write_text(files[path], encoding="utf-8")
        print(f"codegen: wrote {path.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
