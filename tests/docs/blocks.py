"""The fenced code blocks of a Markdown document, in order, each with what the document says
about running it: an HTML comment on the lines just above the fence,

- `<!-- not run: REASON -->`: the block is not run (output, a file excerpt, a command that
  needs the network or a real account…), and the reason is shown in the test's summary;
- `<!-- background -->` (or `<!-- background: NOTE -->`): a long-running server, started in
  the background; the next block runs once the home's server answers.

Every other block must be one the tests run: a shell block (bash, sh, shell; console: its `$ `
lines), or a Python block."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELL = frozenset({"bash", "sh", "shell"})
CONSOLE = frozenset({"console"})
PYTHON = frozenset({"python", "py"})
RUNNABLE = SHELL | CONSOLE | PYTHON

_OPEN = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[^\s`]*)[^`]*$")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
_COMMENT = re.compile(r"^\s*<!--(?P<body>.*?)-->\s*$")
_NOT_RUN = re.compile(r"^\s*not run:\s*(?P<reason>\S.*?)\s*$", re.S)
_BACKGROUND = re.compile(r"^\s*background(?::\s*(?P<note>.*?))?\s*$", re.S)


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language and text, the section it is in, and its
    marker (`not_run`: the reason it is not run; `background`: run it in the background)."""

    path: Path
    line: int
    lang: str
    text: str
    section: str
    not_run: str | None = None
    background: bool = False

    @property
    def where(self) -> str:
        """`file:line` of the opening fence, as editors and CI logs link it."""
        return f"{self.path}:{self.line}"

    @property
    def runnable(self) -> bool:
        """Whether the tests know how to run a block of this language."""
        return self.lang in RUNNABLE

    def script(self) -> str:
        """What runs: the text, or a console block's commands (its `$ ` lines, with their
        continuation lines) without the output shown between them."""
        if self.lang not in CONSOLE:
            return self.text
        commands: list[str] = []
        going_on = False
        for line in self.text.splitlines():
            if going_on:
                commands.append(line)
            elif line.startswith("$ "):
                commands.append(line[2:])
            else:
                continue
            going_on = line.rstrip().endswith("\\")
        return "\n".join(commands) + "\n"


def blocks(path: Path, shown: Path | None = None) -> list[Block]:
    """Every fenced block of the Markdown file `path`, in order; `shown` is the path the
    blocks name (relative to the repository, say)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    section = ""
    n = 0
    while n < len(lines):
        opened = _OPEN.match(lines[n])
        if opened is None:
            heading = _HEADING.match(lines[n])
            if heading:
                section = heading["title"]
            n += 1
            continue
        indent, fence = len(opened["indent"]), opened["fence"]
        end = n + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        body = [_dedent(line, indent) for line in lines[n + 1 : end]]
        not_run, background = _marker(lines, n)
        found.append(
            Block(
                path=shown or path,
                line=n + 1,
                lang=opened["lang"].lower(),
                text="\n".join(body) + "\n",
                section=section,
                not_run=not_run,
                background=background,
            )
        )
        n = end + 1
    return found


def _dedent(line: str, indent: int) -> str:
    """`line` without the fence's indentation (a list item's), or its leading spaces if fewer."""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _marker(lines: list[str], fence: int) -> tuple[str | None, bool]:
    """The marker among the comment lines just above line `fence` (blank lines between
    allowed): (the reason it is not run, whether it runs in the background)."""
    n = fence - 1
    while n >= 0 and (not lines[n].strip() or _COMMENT.match(lines[n])):
        comment = _COMMENT.match(lines[n])
        if comment:
            body = comment["body"]
            not_run = _NOT_RUN.match(body)
            if not_run:
                return not_run["reason"], False
            if _BACKGROUND.match(body):
                return None, True
        n -= 1
    return None, False
