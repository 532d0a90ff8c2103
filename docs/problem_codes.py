"""Find every error code in crosspost's source and write the catalogue the docs and the
server's /docs/errors page are made from (src/crosspost/api/problem_catalogue.json).

    python docs/problem_codes.py            # rewrite the catalogue
    python docs/problem_codes.py --check    # exit 1 when the code has a code it lacks

Codes are read from the syntax tree, so none is missed: the `code` of each error class, each
`code="…"` given where an error is raised, each `problem(status, "code", …)` and
`Flaw(status, "code", …)`, and the generic HTTP codes. Each comes with its status and what
its messages say (the cause, and what to change).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "crosspost"
CATALOGUE = SOURCE / "api" / "problem_catalogue.json"
SKIPPED = ("fakes",)  # the fakes speak the platforms' errors, not crosspost's
MAX_MESSAGES = 3


@dataclass
class Entry:
    statuses: set[int] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)
    causes: list[str] = field(default_factory=list)
    where: set[str] = field(default_factory=set)
    problem: bool = False


def _text(node: ast.expr | None) -> str | None:
    """A string literal, or an f-string with each placeholder shown as `…`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "…"
            for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None or right is None else left + right
    return None


def _int(node: ast.expr | None) -> int | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, int) else None


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if relative.parts[0] in SKIPPED:
            continue
        found.append((str(relative), ast.parse(path.read_text(encoding="utf-8"))))
    return found


@dataclass
class ErrorClass:
    bases: list[str]
    status: int | None
    code: str | None
    title: str | None
    doc: str | None


def _error_classes(modules: list[tuple[str, ast.Module]]) -> dict[str, ErrorClass]:
    classes: dict[str, ErrorClass] = {}
    for _, module in modules:
        for node in ast.walk(module):
            if not isinstance(node, ast.ClassDef):
                continue
            attrs: dict[str, ast.expr] = {}
            for item in node.body:
                if isinstance(item, ast.Assign) and len(item.targets) == 1:
                    attrs[_name(item.targets[0])] = item.value
                elif isinstance(item, ast.AnnAssign) and item.value is not None:
                    attrs[_name(item.target)] = item.value
            classes[node.name] = ErrorClass(
                [_name(b) for b in node.bases],
                _int(attrs.get("status")),
                _text(attrs.get("code")),
                _text(attrs.get("title")),
                ast.get_docstring(node),
            )
    errors: dict[str, ErrorClass] = {"CrosspostError": classes["CrosspostError"]}
    grew = True
    while grew:
        grew = False
        for name, made in classes.items():
            if name not in errors and any(b in errors for b in made.bases):
                errors[name] = made
                grew = True
    return errors


def _inherited(errors: dict[str, ErrorClass], name: str, attr: str) -> object:
    seen = errors.get(name)
    while seen is not None:
        value = getattr(seen, attr)
        if value is not None:
            return value
        seen = next((errors[b] for b in seen.bases if b in errors), None)
    return None


def scan() -> dict[str, Entry]:
    """Every code, by name."""
    modules = _modules()
    errors = _error_classes(modules)
    entries: dict[str, Entry] = defaultdict(Entry)

    def add(
        code: str,
        where: str,
        *,
        status: object = None,
        title: object = None,
        cause: str | None = None,
        problem: bool = True,
    ) -> None:
        entry = entries[code]
        if isinstance(status, int):
            entry.statuses.add(status)
        if isinstance(title, str):
            entry.titles.add(title)
        if cause and cause not in entry.causes:
            entry.causes.append(cause)
        entry.where.add(where.split("/", maxsplit=1)[0].removesuffix(".py"))
        entry.problem |= problem

    for name, made in errors.items():
        code = _inherited(errors, name, "code")
        if made.code is not None and isinstance(code, str):
            doc = (made.doc or "").split("\n\n")[0].replace("\n", " ")
            add(
                code,
                "errors",
                status=_inherited(errors, name, "status"),
                title=_inherited(errors, name, "title"),
                cause=doc,
            )
    for where, module in modules:
        for node in ast.walk(module):
            if (
                isinstance(node, ast.Dict)
                and all(isinstance(v, ast.Tuple) and len(v.elts) == 2 for v in node.values)
                and node.keys
                and all(_int(k) for k in node.keys)
            ):  # the generic HTTP codes
                for key, value in zip(node.keys, node.values, strict=True):
                    assert isinstance(value, ast.Tuple)
                    code, title = _text(value.elts[0]), _text(value.elts[1])
                    if code:
                        add(
                            code,
                            where,
                            status=_int(key),
                            title=title,
                            cause=f"{title} (HTTP {_int(key)}): the generic answer to that status.",
                        )
            if not isinstance(node, ast.Call):
                continue
            callee = _name(node.func)
            given = next((k.value for k in node.keywords if k.arg == "code"), None)
            message = _text(node.args[0]) if node.args else None
            if callee in errors:
                code = _text(given) if given is not None else None
                if code is None and given is None and callee != "CrosspostError":
                    continue  # the class's own code, recorded above with its docstring
                if code:
                    add(
                        code,
                        where,
                        status=_inherited(errors, callee, "status"),
                        title=_inherited(errors, callee, "title"),
                        cause=message,
                    )
            elif callee in ("problem", "Flaw") and len(node.args) >= 2:
                code = _text(node.args[1])
                detail = (
                    node.args[3]
                    if callee == "problem" and len(node.args) > 3
                    else (node.args[2] if callee == "Flaw" and len(node.args) > 2 else None)
                )
                title = _text(node.args[2]) if callee == "problem" and len(node.args) > 2 else None
                if code:
                    add(code, where, status=_int(node.args[0]), title=title, cause=_text(detail))
            elif given is not None and (code := _text(given)):
                # A code named elsewhere: a rule a post breaks, a platform's refusal of a
                # target, a job's failure; shown in `errors`, a target's or a job's `error`.
                add(code, where, cause=message, problem=False)
    return dict(entries)


def catalogue() -> list[dict[str, object]]:
    """The catalogue as written: codes in order, each with what is known of it."""
    return [
        {
            "code": code,
            "statuses": sorted(entry.statuses),
            "title": sorted(entry.titles)[0] if entry.titles else None,
            "causes": entry.causes[:MAX_MESSAGES],
            "problem": entry.problem,
            "areas": sorted(entry.where),
        }
        for code, entry in sorted(scan().items())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the catalogue is stale")
    args = parser.parse_args(argv)
    text = json.dumps(catalogue(), indent=1, ensure_ascii=False) + "\n"
    current = CATALOGUE.read_text(encoding="utf-8") if CATALOGUE.exists() else None
    if args.check:
        if current != text:
            print("problem_codes: the catalogue is stale; run python docs/problem_codes.py")
            return 1
        return 0
    if current != text:
        CATALOGUE.write_text(text, encoding="utf-8")
        print(f"problem_codes: wrote {CATALOGUE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
