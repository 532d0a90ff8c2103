"""What the fake distributor checks in a package, written from DDEX's ERN 4.3 documents
(never from our client): the message is an ERN 4.3 NewReleaseMessage, every file it names is
in the batch with the size and MD5 it gives, the artwork meets stores' rules, and the ICPN
and ISRCs are well-formed. Each problem is a `Rejection` with a stable code."""

from __future__ import annotations

import contextlib
import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from PIL import Image

ERN_NAMESPACE = "http://ddex.net/xml/ern/43"
MIN_ARTWORK_PIXELS = 3000
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_GTIN = re.compile(r"[0-9]{8}|[0-9]{12,14}")

BatchKind = Literal["release", "update", "takedown"]


@dataclass(frozen=True)
class Rejection:
    """One reason a package was refused."""

    code: str
    text: str


def message_root(document: bytes) -> ET.Element | Rejection:
    """The message's root element, or why it is not an ERN 4.3 NewReleaseMessage."""
    try:
        # expat expands no external entities and caps entity expansion; the fake reads only
        # what its tests send.
        root = ET.fromstring(document)  # noqa: S314
    except ET.ParseError as error:
        return Rejection("NotWellFormed", f"the message is not well-formed XML: {error}")
    namespace, _, name = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", "")
    if namespace != ERN_NAMESPACE:
        found = namespace or "no namespace"
        return Rejection("WrongNamespace", f"expected {ERN_NAMESPACE}, found {found}")
    if name != "NewReleaseMessage":
        return Rejection("WrongMessageType", f"expected a NewReleaseMessage, not {name}")
    return root


def file_problems(root: ET.Element, folder: Path) -> list[Rejection]:
    problems = []
    for holder in root.iterfind(".//IsProvidedInDelivery/.."):
        if holder.findtext("IsProvidedInDelivery") == "true" and holder.find("File") is None:
            problems.append(Rejection("FileNotDescribed", f"a provided {holder.tag} has no File"))
    for resource in root.iterfind("ResourceList/*"):
        for details in resource.iter("TechnicalDetails"):
            for file in details.iter("File"):
                problems += _check_file(file, folder, resource.tag, details)
    return problems


def _check_file(file: ET.Element, folder: Path, kind: str, details: ET.Element) -> list[Rejection]:
    uri = (file.findtext("URI") or "").strip()
    path = (folder / uri).resolve()
    if not uri or "://" in uri or uri.startswith("/") or not path.is_relative_to(folder):
        return [Rejection("InvalidUri", f"{uri!r} is not a path inside the batch folder")]
    if not path.is_file():
        return [Rejection("FileMissing", f"{uri} is named by the message but not in the batch")]
    problems = []
    size = path.stat().st_size
    declared = file.findtext("FileSize")
    if declared is not None and _kilobytes(declared) != Decimal(size) / 1000:
        problems.append(Rejection("SizeMismatch", f"{uri} is {size} bytes, FileSize {declared}"))
    algorithm, value = file.findtext("HashSum/Algorithm"), file.findtext("HashSum/HashSumValue")
    if algorithm is None or not value:
        problems.append(Rejection("HashMissing", f"{uri} has no HashSum"))
    elif algorithm != "MD5":
        problems.append(Rejection("UnsupportedHashAlgorithm", f"{uri}: {algorithm}, not MD5"))
    elif (actual := md5_of(path)) != value.strip().lower():
        problems.append(Rejection("HashMismatch", f"{uri} has MD5 {actual}, the message {value}"))
    if kind == "SoundRecording" and size == 0:
        problems.append(Rejection("AudioEmpty", f"{uri} is empty"))
    if kind == "Image":
        problems += _artwork_problems(path, uri, details)
    return problems


def _artwork_problems(path: Path, uri: str, details: ET.Element) -> list[Rejection]:
    try:
        with Image.open(path) as image:
            kind, mode, (width, height) = image.format, image.mode, image.size
            transparent = "transparency" in image.info
            image.verify()
    except (OSError, SyntaxError, ValueError) as error:
        return [Rejection("ArtworkInvalid", f"{uri} is not a readable image: {error}")]
    problems = []
    if kind not in ("JPEG", "PNG") or details.findtext("ImageCodecType") not in (None, kind):
        problems.append(Rejection("ArtworkFormat", f"{uri} is {kind}; send a JPEG or PNG"))
    if "A" in mode or "a" in mode or transparent:
        problems.append(Rejection("ArtworkHasAlpha", f"{uri} has transparency ({mode})"))
    elif mode != "RGB":
        problems.append(Rejection("ArtworkNotRgb", f"{uri} is {mode}, not RGB"))
    if width != height:
        problems.append(Rejection("ArtworkNotSquare", f"{uri} is {width}x{height}"))
    if min(width, height) < MIN_ARTWORK_PIXELS:
        problems.append(
            Rejection("ArtworkTooSmall", f"{uri} is {width}x{height}, under {MIN_ARTWORK_PIXELS}")
        )
    declared = (details.findtext("ImageWidth"), details.findtext("ImageHeight"))
    if declared != (None, None) and declared != (str(width), str(height)):
        problems.append(
            Rejection("ArtworkDimensionMismatch", f"{uri} is {width}x{height}, said {declared}")
        )
    return problems


def identifier_problems(root: ET.Element) -> list[Rejection]:
    problems = []
    icpns = [element.text or "" for element in root.iterfind("ReleaseList/Release/ReleaseId/ICPN")]
    for icpn in icpns or [""]:
        if not valid_gtin(icpn):
            problems.append(
                Rejection("InvalidIcpn", f"{icpn!r} is not a GTIN with its check digit")
            )
    for recording in root.iterfind("ResourceList/SoundRecording"):
        isrc = recording.findtext("SoundRecordingEdition/ResourceId/ISRC") or ""
        if not _ISRC.fullmatch(isrc):
            reference = recording.findtext("ResourceReference")
            problems.append(Rejection("InvalidIsrc", f"{reference}: {isrc!r} is not an ISRC"))
    return problems


def valid_gtin(code: str) -> bool:
    """GS1's mod-10 check: weights 3, 1, 3, ... from the digit before the check digit."""
    if not _GTIN.fullmatch(code):
        return False
    body = reversed(code[:-1])
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(body))
    return (-total) % 10 == int(code[-1])


def kind_of(root: ET.Element) -> BatchKind:
    deals = root.findall("DealList/ReleaseDeal/Deal")
    if deals and all(len(deal) == 0 for deal in deals):
        return "takedown"  # an empty Deal ends every deal: ERN 4.3's takedown
    provided = [element.text for element in root.iter("IsProvidedInDelivery")]
    return "release" if "true" in provided else "update"


def _kilobytes(text: str) -> Decimal | None:
    with contextlib.suppress(InvalidOperation):
        return Decimal(text.strip())
    return None


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # DDEX's HashSum, an integrity check
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
