"""Every code block of README.md and docs/*.md runs, in the order of its document, in one
terminal of a fresh user (tests/docs/shell.py) against a real `crosspost serve --sandbox` that
the document itself starts; a block that cannot run says so in the Markdown, with its reason
(tests/docs/blocks.py). The README's run is issue 13's bar: on a machine where another
crosspost already holds the default ports, its quick start ends in two published targets in
under a minute."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from crosspost.cli._home import read_record
from tests.docs.blocks import PYTHON, Block, blocks
from tests.docs.shell import Ran, Session, checkout, session_env
from tests.served import Servers, clean_env

# The default ports 8000 and 8010 are one machine-wide resource: under pytest-xdist
# every test that takes or holds them runs on the same worker, one at a time.
pytestmark = pytest.mark.xdist_group("default_ports")

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
QUICK_START = "Quick start"
# Issue 13: the README's commands end in two published targets in under a minute.
QUICK_START_SECONDS = 60.0
_TAIL = 40


def _blocks(path: Path) -> list[Block]:
    return blocks(path, path.relative_to(ROOT))


def unmarked(found: Sequence[Block]) -> list[str]:
    """The blocks the tests cannot run and whose document does not say why: `file:line`."""
    return [
        f"{b.where}: a ```{b.lang or '(no language)'} block is not run; run it as bash, sh, "
        "console or python, or put <!-- not run: why --> on the line above it"
        for b in found
        if (not b.runnable and b.not_run is None) or (b.background and b.lang in PYTHON)
    ]


def run_blocks(session: Session, found: Sequence[Block]) -> Iterator[tuple[Block, Ran | None]]:
    """Run each block in order (None for one marked not run); the first that fails ends the
    test with its place, its text and what it printed."""
    problems = unmarked(found)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    for block in found:
        if block.not_run is not None:
            yield block, None
            continue
        if block.background:
            ran = session.start(block.script())
        else:
            ran = session.run(block.script(), python=block.lang in PYTHON)
        if not ran.ok:
            pytest.fail(failure(block, ran), pytrace=False)
        yield block, ran


def failure(block: Block, ran: Ran) -> str:
    """What a failed block did, for the test report."""
    if ran.code is None and block.background:
        how = (
            f"started no server that answers on its home within {ran.seconds:.0f} s "
            "(<!-- background --> is for `crosspost serve`; mark other long-running commands "
            "<!-- not run: why -->)"
        )
    elif ran.code is None:
        how = f"did not finish within {ran.seconds:.0f} s"
    elif block.background:
        how = f"exited ({ran.code}) before its server answered, after {ran.seconds:.1f} s"
    else:
        how = f"exited {ran.code} after {ran.seconds:.1f} s"

    def tail(text: str) -> str:
        return "\n".join(text.splitlines()[-_TAIL:])

    return (
        f"{block.where}: the ```{block.lang} block (section {block.section!r}) {how}\n"
        f"--- block ---\n{block.text}--- stdout ---\n{tail(ran.stdout)}\n"
        f"--- stderr ---\n{tail(ran.stderr)}"
    )


def summary(results: Sequence[tuple[Block, Ran | None]]) -> str:
    """One line a block: where, how long, or why it was not run."""
    return "\n".join(
        f"{block.where:24} "
        + (f"not run: {block.not_run}" if ran is None else f"{ran.seconds:5.1f} s")
        for block, ran in results
    )


def open_session(root: Path) -> Session:
    """A fresh user's terminal in a folder of its own (see `session_env`, `checkout`)."""
    env, home = session_env(root)
    checkout(root / "work")
    return Session(root / "work", env, root / "blocks", home)


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_block_runs_or_says_why_not(path: Path) -> None:
    """A block the tests cannot run (JSON, HTTP, a tree…) is marked `not run` with a reason;
    none is skipped silently."""
    problems = unmarked(_blocks(path))
    assert not problems, "\n".join(problems)


def test_blocks_are_read_with_their_place_language_and_marker(tmp_path: Path) -> None:
    """Fences (indented ones too), languages, sections, markers above them (past blank
    lines and other comments) and a console block's commands without its output."""
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Title\n\n## Part\n\n<!-- not run: output -->\n\n```json\n{}\n```\n\n"
        "<!-- background: a server -->\n<!-- another comment -->\n```bash\nserve\n```\n\n"
        "- item\n\n  ```console\n  $ curl a \\\n      -d b\n"
        '  {"answer": 1}\n  $ echo c\n  c\n  ```\n'
    )
    found = blocks(doc, Path("doc.md"))
    assert [(b.where, b.lang, b.section, b.not_run, b.background) for b in found] == [
        ("doc.md:7", "json", "Part", "output", False),
        ("doc.md:13", "bash", "Part", None, True),
        ("doc.md:19", "console", "Part", None, False),
    ]
    assert found[2].script() == "curl a \\\n    -d b\necho c\n"


def test_a_failing_block_is_reported_by_place_and_nothing_runs_after_it(tmp_path: Path) -> None:
    """The first failing block ends the run with its `file:line`, code and output; variables
    of earlier blocks reach later ones, exported or not; a Python block sees exports; an
    unmarked block of another language fails before anything runs."""
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Doc\n\n```bash\nNAME=first\nexport SHARED=yes\n```\n\n"
        "```python\nimport os\nassert os.environ['SHARED'] == 'yes'\n```\n\n"
        '```bash\necho "seen $NAME"\nfalse\necho never\n```\n\n```bash\ntouch after\n```\n'
    )
    session = open_session(tmp_path)
    try:
        with pytest.raises(pytest.fail.Exception) as failed:
            list(run_blocks(session, blocks(doc, Path("doc.md"))))
    finally:
        session.close()
    message = str(failed.value)
    assert message.startswith("doc.md:13: the ```bash block (section 'Doc') exited 1"), message
    assert "seen first" in message and "never" not in message.split("--- stdout ---")[1]
    assert not (tmp_path / "work" / "after").exists()
    doc.write_text("```bash\ntouch before\n```\n\n```json\n{}\n```\n")
    with pytest.raises(pytest.fail.Exception) as refused:
        list(run_blocks(open_session(tmp_path / "again"), blocks(doc, Path("doc.md"))))
    assert "doc.md:5: a ```json block is not run" in str(refused.value)
    assert not (tmp_path / "again" / "work" / "before").exists()


def _published(session: Session) -> list[dict[str, Any]]:
    """The posts of the session's key that are published (with the terminal's settings)."""
    listed = session.run("crosspost posts list --json\n")
    assert listed.ok, listed.stderr
    return [p for p in json.loads(listed.stdout) if p["status"] == "published"]


@pytest.mark.slow
def test_readme_beside_another_crosspost(serve: Servers, tmp_path: Path) -> None:
    """The README, block after block, in a fresh user's terminal on a machine where another
    crosspost already runs (started as a user would, on the default ports): the quick start
    ends in two published targets in under a minute, on a server and fakes of its own (the
    other's fakes get nothing), and every later block runs."""
    other = serve(
        clean_env(CROSSPOST_HOME=str(tmp_path / "other")),
        tmp_path,
        default_port=True,
        default_fakes_port=True,
    )
    found = _blocks(README)
    quick = [b for b in found if b.section == QUICK_START and b.not_run is None]
    session = open_session(tmp_path / "user")
    results: list[tuple[Block, Ran | None]] = []
    try:
        started = time.monotonic()
        for block, ran in run_blocks(session, found):
            results.append((block, ran))
            if block == quick[-1]:
                quick_start = time.monotonic() - started
                published = _published(session)
                record = read_record(session.home)
    finally:
        session.close()
        print(f"\nREADME.md, block by block:\n{summary(results)}")
    print(f"quick start: {quick_start:.1f} s to two published targets")
    assert [sorted((t["platform"], t["status"]) for t in p["targets"]) for p in published] == [
        [("tiktok", "published"), ("youtube", "published")]
    ]
    assert record is not None
    assert record.api_url != other.url and record.fakes_url != other.fakes_url
    served = next(ran for block, ran in results if block.background and ran is not None)
    if other.url.endswith(":8000"):
        # Said loudly, as the fakes' move is (tests/cli/test_sandbox_port.py).
        warning = "warning: API port 8000 is held by the API of another crosspost"
        assert warning in served.stderr, served.stderr
    assert other.fake("youtube", "state")["posts"] == []
    assert other.fake("tiktok", "state")["posts"] == []
    assert quick_start < QUICK_START_SECONDS


@pytest.mark.slow
@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_doc_blocks_run(path: Path, tmp_path: Path) -> None:
    """Each document of docs/, block after block, in a fresh user's terminal."""
    session = open_session(tmp_path)
    results: list[tuple[Block, Ran | None]] = []
    try:
        results.extend(run_blocks(session, _blocks(path)))
    finally:
        session.close()
        print(f"\n{path.name}, block by block:\n{summary(results)}")
