"""`crosspost sample`: small, real media files to publish in the sandbox (the README's
first clip), made here with PyAV — no download, no ffmpeg binary."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from crosspost.cli._common import App, ExitCode, examples, out

app = App(help="Make a small sample video, audio or image file to publish.")

PathArg = Annotated[
    Path | None,
    typer.Argument(
        dir_okay=False, help="Where to write it; the suffix picks the format.", metavar="PATH"
    ),
]
Seconds = Annotated[float, typer.Option(min=0.1, max=600, help="Length.", metavar="SECONDS")]
Size = Annotated[
    str | None, typer.Option(help="Width x height in pixels, e.g. 1080x1920.", metavar="WxH")
]


def _size(value: str | None, default: tuple[int, int]) -> tuple[int, int]:
    """--size WxH as two even numbers of pixels (what H.264 in 4:2:0 needs)."""
    if value is None:
        return default
    match = re.fullmatch(r"(\d+)[xX](\d+)", value.strip())
    if match is None or not all(16 <= int(n) <= 4096 for n in match.groups()):
        out().error(f"--size {value}: write WIDTHxHEIGHT, each 16 to 4096, e.g. 1080x1920")
        raise typer.Exit(ExitCode.USAGE)
    width, height = (int(n) for n in match.groups())
    if width % 2 or height % 2:
        out().error(f"--size {value}: give even numbers (video is stored in 2x2 blocks)")
        raise typer.Exit(ExitCode.USAGE)
    return width, height


def _write(kind: str, path: Path, make: Callable[[], Any], **facts: Any) -> None:
    """Make the file, then print its path (-q: the path alone; --json: its facts)."""
    try:
        make()
    except (ValueError, OSError) as err:
        out().error(f"cannot write {path}: {err}")
        raise typer.Exit(ExitCode.ERROR) from None
    data = {"path": str(path), "kind": kind, "bytes": path.stat().st_size, **facts}
    out().result(
        data,
        ids=[str(path)],
        human=lambda: out().line(f"wrote {path} ({kind}, {data['bytes']:,} bytes)"),
    )


@app.command(
    "video",
    epilog=examples(
        "crosspost sample video clip.mp4",
        "crosspost sample video long.mp4 --seconds 30 --size 1080x1920",
    ),
)
def video(path: PathArg = None, seconds: Seconds = 3.0, size: Size = None) -> None:
    """A vertical H.264/AAC clip: a bar moving over a gradient, with a tone."""
    from crosspost.media.samples import make_video  # noqa: PLC0415

    target = path or Path("clip.mp4")
    width, height = _size(size, (360, 640))
    _write(
        "video",
        target,
        lambda: make_video(target, seconds=seconds, width=width, height=height),
        seconds=seconds,
        width=width,
        height=height,
    )


@app.command(
    "audio",
    epilog=examples(
        "crosspost sample audio tone.mp3", "crosspost sample audio tone.wav --seconds 10"
    ),
)
def audio(path: PathArg = None, seconds: Seconds = 3.0) -> None:
    """A mono tone; the suffix picks the codec (.mp3, .m4a, .wav, .flac, .ogg)."""
    from crosspost.media.samples import make_audio  # noqa: PLC0415

    target = path or Path("tone.mp3")
    _write("audio", target, lambda: make_audio(target, seconds=seconds), seconds=seconds)


@app.command(
    "image",
    epilog=examples(
        "crosspost sample image cover.png", "crosspost sample image cover.jpg --size 1080x1080"
    ),
)
def image(path: PathArg = None, size: Size = None) -> None:
    """A gradient image; the suffix picks the format (.png, .jpg, .webp, .gif)."""
    from crosspost.media.samples import make_image  # noqa: PLC0415

    target = path or Path("image.png")
    width, height = _size(size, (320, 240))
    _write(
        "image",
        target,
        lambda: make_image(target, width=width, height=height),
        width=width,
        height=height,
    )


@app.command(
    "stream",
    epilog=examples(
        "crosspost sample stream stream.mp4",
        "crosspost highlights PROJECT_ID   # finds the loud, busy stretch",
    ),
)
def stream(path: PathArg = None) -> None:
    """A 45 s landscape recording, quiet but for one loud, busy stretch (24-31 s): a source
    the clip studio's highlight detection finds one highlight in."""
    from crosspost.studio.highlight_samples import make_highlight_source  # noqa: PLC0415

    target = path or Path("stream.mp4")
    _write(
        "video",
        target,
        lambda: make_highlight_source(
            target, seconds=45, loud=((24.0, 31.0),), cuts=(25.0, 27.0, 29.0)
        ),
        seconds=45.0,
    )
