"""DDEX ERN 4.3 messages for a release: the NewReleaseMessage that delivers or updates it, and
the one that takes it down from stores.

The inputs are plain dataclasses, so a message can be built from any source of releases.
"""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from crosspost.distribution.identifiers import c_line, p_line
from crosspost.domain.music import ArtistRole, ContributorRole, ReleaseType

NAMESPACE = "http://ddex.net/xml/ern/43"
# The version of DDEX's allowed-value sets that the ERN 4.3 schema imports
# (allowed-value-sets.xsd declares AvsVersionId 3).
AVS_VERSION = "3"
# Only the root element is namespaced (the schema's elements are unqualified); without this
# ElementTree would name the prefix "ns0".
ET.register_namespace("ern", NAMESPACE)

AudioCodec = Literal["FLAC", "PCM", "WAV"]
ImageCodec = Literal["JPEG", "PNG"]

_DPID = re.compile(r"PADPIDA[a-zA-Z0-9]+")
_RELEASE_TYPES: dict[ReleaseType, str] = {"single": "Single", "ep": "EP", "album": "Album"}
# DisplayArtistRole has no remixer: DDEX credits one as an Artist whose ArtisticRole says how.
_ARTIST_ROLES: dict[ArtistRole, tuple[str, str | None]] = {
    "main": ("MainArtist", None),
    "featured": ("FeaturedArtist", None),
    "remixer": ("Artist", "Remixer"),
}
_CONTRIBUTOR_ROLES: dict[ContributorRole, str] = {
    "composer": "Composer",
    "lyricist": "Lyricist",
    "producer": "StudioProducer",  # ERN 4.3's ContributorRole has no plain "Producer"
    "arranger": "Arranger",
    "mixing_engineer": "MixingEngineer",
    "mastering_engineer": "MasteringEngineer",
    "performer": "Performer",
}
# A WAV master is PCM audio; AudioCodecType names the codec, not the container.
_AUDIO_CODECS: dict[AudioCodec, str] = {"FLAC": "FLAC", "PCM": "PCM", "WAV": "PCM"}
# One deal per commercial model: a deal offers every use under every model it names, so one
# deal with both would also offer permanent downloads by subscription.
_DEALS = (
    ("SubscriptionModel", ("OnDemandStream", "NonInteractiveStream")),
    ("AdvertisementSupportedModel", ("OnDemandStream", "NonInteractiveStream")),
    ("PayAsYouGoModel", ("PermanentDownload",)),
)


@dataclass(frozen=True)
class Party:
    """A message's sender or recipient: its DDEX Party ID (DPID) and name."""

    party_id: str
    name: str

    def __post_init__(self) -> None:
        if _DPID.fullmatch(self.party_id) is None:
            raise ValueError(f"{self.party_id!r} is not a DPID, like PADPIDA2014120301H")


@dataclass(frozen=True)
class ErnArtist:
    """An artist displayed with a release or track."""

    name: str
    role: ArtistRole = "main"


@dataclass(frozen=True)
class ErnContributor:
    """Someone credited on a track without being displayed as its artist."""

    name: str
    role: ContributorRole


@dataclass(frozen=True, kw_only=True)
class ErnTrack:
    """A track: its metadata and its master's file (a path relative to the batch)."""

    isrc: str
    title: str
    version_title: str | None = None
    artists: Sequence[ErnArtist]
    contributors: Sequence[ErnContributor] = ()
    duration_seconds: float
    explicit: bool = False
    language: str
    preview_start_seconds: float = 0.0
    file_name: str
    md5: str
    size_bytes: int
    audio_codec: AudioCodec
    bit_depth: int
    sample_rate: int
    channels: int
    p_line_year: int
    p_line_owner: str

    def __post_init__(self) -> None:
        if not self.artists:
            raise ValueError(f"track {self.isrc} needs at least one artist")


@dataclass(frozen=True, kw_only=True)
class ErnImage:
    """The front cover's file (a path relative to the batch)."""

    file_name: str
    md5: str
    size_bytes: int | None = None
    width: int
    height: int
    image_codec: ImageCodec


@dataclass(frozen=True, kw_only=True)
class ErnRelease:
    """A release as DDEX carries it; `language` is the metadata's, `release_date` when it
    goes live, `p_line` and `c_line` are (year, owner)."""

    upc: str
    title: str
    version_title: str | None = None
    release_type: ReleaseType
    artists: Sequence[ErnArtist]
    label: str
    genre: str
    sub_genre: str | None = None
    language: str
    p_line: tuple[int, str]
    c_line: tuple[int, str]
    original_release_date: date | None = None
    release_date: date
    territories: Sequence[str] = ("Worldwide",)
    tracks: Sequence[ErnTrack]
    image: ErnImage | None = None

    def __post_init__(self) -> None:
        if not self.artists or not self.tracks:
            raise ValueError(f"release {self.upc} needs at least one artist and one track")


def new_release_message(
    release: ErnRelease,
    *,
    sender: Party,
    recipient: Party,
    message_id: str,
    thread_id: str,
    created_at: datetime,
    update: bool = False,
) -> bytes:
    """A NewReleaseMessage delivering `release` with streaming and download deals.

    ERN 4.3 has no update flag (ERN 3's UpdateIndicator is gone): a message for a release the
    recipient holds replaces it in full. `update=True` makes it metadata-only, its files
    marked IsProvidedInDelivery false, so the batch is sent without the masters and artwork.
    """
    root = _message(release, sender, recipient, message_id, thread_id, created_at, not update)
    _deal_list(root, release, takedown=False)
    return _serialize(root)


def takedown_message(
    release: ErnRelease,
    *,
    sender: Party,
    recipient: Party,
    message_id: str,
    thread_id: str,
    created_at: datetime,
) -> bytes:
    """A NewReleaseMessage taking `release` down from the recipient's stores.

    ERN 4.3 dropped ERN 3's TakeDown flag: a takedown is the release's metadata sent again
    (without files) with one empty Deal, which cancels every deal, for each release. A
    PurgeReleaseMessage is not a takedown: it asks the recipient to erase a release sent
    in error.
    """
    root = _message(release, sender, recipient, message_id, thread_id, created_at, False)
    _deal_list(root, release, takedown=True)
    return _serialize(root)


def iso_duration(seconds: float) -> str:
    """`seconds` as an xs:duration to the millisecond: 201 is "PT3M21S", 0.4 "PT0.4S"."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration is a finite number of seconds >= 0, not {seconds}")
    hours, millis = divmod(round(seconds * 1000), 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if millis or not (hours or minutes):
        text += f"{_thousandths(millis)}S"
    return text


def _thousandths(value: int) -> str:
    """`value` / 1000 as a decimal without trailing zeros: 21500 is "21.5", 0 is "0"."""
    whole, fraction = divmod(value, 1000)
    return f"{whole}.{fraction:03d}".rstrip("0").rstrip(".")


class _Parties:
    """The PartyList: one Party per distinct name, referenced as P1, P2, ... in first use."""

    def __init__(self) -> None:
        self.references: dict[str, str] = {}

    def ref(self, name: str) -> str:
        return self.references.setdefault(name, f"P{len(self.references) + 1}")


def _message(
    release: ErnRelease,
    sender: Party,
    recipient: Party,
    message_id: str,
    thread_id: str,
    created_at: datetime,
    files_provided: bool,
) -> ET.Element:
    if created_at.tzinfo is None:
        raise ValueError("created_at needs a time zone: DDEX requires YYYY-MM-DDThh:mm:ssTZD")
    root = ET.Element(
        f"{{{NAMESPACE}}}NewReleaseMessage",
        {"AvsVersionId": AVS_VERSION, "LanguageAndScriptCode": release.language},
    )
    header = _sub(root, "MessageHeader")
    _sub(header, "MessageThreadId", thread_id)
    _sub(header, "MessageId", message_id)
    for tag, party in (("MessageSender", sender), ("MessageRecipient", recipient)):
        element = _sub(header, tag)
        _sub(element, "PartyId", party.party_id)
        _sub(_sub(element, "PartyName"), "FullName", party.name)
    _sub(header, "MessageCreatedDateTime", created_at.isoformat(timespec="seconds"))

    parties = _Parties()
    party_list = _sub(root, "PartyList")  # filled once every party has been referenced
    resources = _sub(root, "ResourceList")
    for number, track in enumerate(release.tracks, start=1):
        _sound_recording(resources, track, number, parties, files_provided)
    image_ref = None
    if release.image is not None:
        number = len(release.tracks) + 1  # the cover follows the tracks: A1..An, then the image
        image_ref = f"A{number}"
        _image(resources, release.image, number, release.upc, sender, files_provided)
    _release_list(root, release, sender, parties, image_ref)
    for name, ref in parties.references.items():
        entry = _sub(party_list, "Party")
        _sub(entry, "PartyReference", ref)
        _sub(_sub(entry, "PartyName"), "FullName", name)
    return root


def _sound_recording(
    parent: ET.Element, track: ErnTrack, number: int, parties: _Parties, files_provided: bool
) -> None:
    recording = _sub(parent, "SoundRecording")
    _sub(recording, "ResourceReference", f"A{number}")
    _sub(recording, "Type", "MusicalWorkSoundRecording")
    edition = _sub(recording, "SoundRecordingEdition")
    _sub(_sub(edition, "ResourceId"), "ISRC", track.isrc)
    _rights_line(edition, "PLine", track.p_line_year, track.p_line_owner)
    details = _sub(edition, "TechnicalDetails")
    _sub(details, "TechnicalResourceDetailsReference", f"T{number}")
    delivery = _sub(details, "DeliveryFile")
    _sub(delivery, "Type", "AudioFile")
    _sub(delivery, "AudioCodecType", _AUDIO_CODECS[track.audio_codec])
    _sub(delivery, "NumberOfChannels", str(track.channels))
    _sub(delivery, "SamplingRate", str(track.sample_rate), UnitOfMeasure="Hz")
    _sub(delivery, "BitDepth", str(track.bit_depth))
    _file(delivery, track.file_name, track.md5, track.size_bytes, files_provided)
    _sub(details, "IsClip", "false")
    # The store cuts its own preview from the full file, starting where the label chose.
    clip = _sub(details, "ClipDetails")
    _sub(clip, "TechnicalResourceDetailsReference", f"T{number}-preview")
    _sub(clip, "ClipType", "Preview")
    timing = _sub(clip, "Timing")
    _sub(timing, "StartPoint", _thousandths(round(track.preview_start_seconds * 1000)))
    _sub(clip, "ExpressionType", "Instructive")
    _titles(recording, track.title, track.version_title)
    _artists(recording, track.artists, parties)
    for sequence, contributor in enumerate(track.contributors, start=1):
        element = _sub(recording, "Contributor", SequenceNumber=str(sequence))
        _sub(element, "ContributorPartyReference", parties.ref(contributor.name))
        _sub(element, "Role", _CONTRIBUTOR_ROLES[contributor.role])
    _sub(recording, "Duration", iso_duration(track.duration_seconds))
    _sub(recording, "ParentalWarningType", "Explicit" if track.explicit else "NotExplicit")
    if track.language == "zxx":  # ISO 639's "no linguistic content"
        _sub(recording, "IsInstrumental", "true")
    _sub(recording, "LanguageOfPerformance", track.language)


def _image(
    parent: ET.Element,
    image: ErnImage,
    number: int,
    upc: str,
    sender: Party,
    files_provided: bool,
) -> None:
    element = _sub(parent, "Image")
    _sub(element, "ResourceReference", f"A{number}")
    _sub(element, "Type", "FrontCoverImage")
    # An image has no standard identifier: the sender names it in its own namespace.
    resource_id = _sub(element, "ResourceId")
    _sub(resource_id, "ProprietaryId", f"{upc}_FrontCover", Namespace=_namespace(sender))
    details = _sub(element, "TechnicalDetails")
    _sub(details, "TechnicalResourceDetailsReference", f"T{number}")
    _sub(details, "ImageCodecType", image.image_codec)
    _sub(details, "ImageHeight", str(image.height), UnitOfMeasure="Pixel")
    _sub(details, "ImageWidth", str(image.width), UnitOfMeasure="Pixel")
    _file(details, image.file_name, image.md5, image.size_bytes, files_provided)


def _file(parent: ET.Element, name: str, md5: str, size_bytes: int | None, provided: bool) -> None:
    """The File with its MD5 when it travels with the message; IsProvidedInDelivery either way."""
    if provided:
        file = _sub(parent, "File")
        _sub(file, "URI", name)
        hash_sum = _sub(file, "HashSum")
        _sub(hash_sum, "Algorithm", "MD5")
        _sub(hash_sum, "HashSumValue", md5.lower())
        if size_bytes is not None:
            _sub(file, "FileSize", _thousandths(size_bytes))  # the schema counts kilobytes
    _sub(parent, "IsProvidedInDelivery", "true" if provided else "false")


def _release_list(
    root: ET.Element,
    release: ErnRelease,
    sender: Party,
    parties: _Parties,
    image_ref: str | None,
) -> None:
    releases = _sub(root, "ReleaseList")
    main = _sub(releases, "Release")
    _sub(main, "ReleaseReference", "R0")
    _sub(main, "ReleaseType", _RELEASE_TYPES[release.release_type])
    _sub(_sub(main, "ReleaseId"), "ICPN", release.upc)
    _titles(main, release.title, release.version_title)
    _artists(main, release.artists, parties)
    label_ref = parties.ref(release.label)
    _sub(main, "ReleaseLabelReference", label_ref)
    _rights_line(main, "PLine", *release.p_line)
    _rights_line(main, "CLine", *release.c_line)
    _sub(main, "Duration", iso_duration(sum(t.duration_seconds for t in release.tracks)))
    _genre(main, release)
    _sub(main, "ReleaseDate", release.release_date.isoformat())
    if release.original_release_date is not None:
        _sub(main, "OriginalReleaseDate", release.original_release_date.isoformat())
    explicit = any(track.explicit for track in release.tracks)
    _sub(main, "ParentalWarningType", "Explicit" if explicit else "NotExplicit")
    group = _sub(main, "ResourceGroup")
    for number in range(1, len(release.tracks) + 1):
        item = _sub(group, "ResourceGroupContentItem")
        _sub(item, "SequenceNumber", str(number))
        _sub(item, "ReleaseResourceReference", f"A{number}")
        _cover_art(item, image_ref)

    # Each track is also a release of its own, so stores can sell and stream it alone.
    for number, track in enumerate(release.tracks, start=1):
        element = _sub(releases, "TrackRelease")
        _sub(element, "ReleaseReference", f"R{number}")
        # ReleaseId has no ISRC in ERN 4.3: the sender's own namespace carries it.
        release_id = _sub(element, "ReleaseId")
        _sub(release_id, "ProprietaryId", track.isrc, Namespace=_namespace(sender))
        _titles(element, track.title, track.version_title)
        _sub(element, "ReleaseResourceReference", f"A{number}")
        _cover_art(element, image_ref)
        _sub(element, "ReleaseLabelReference", label_ref)
        _genre(element, release)


def _deal_list(root: ET.Element, release: ErnRelease, *, takedown: bool) -> None:
    release_deal = _sub(_sub(root, "DealList"), "ReleaseDeal")
    for number in range(len(release.tracks) + 1):
        _sub(release_deal, "DealReleaseReference", f"R{number}")
    if takedown:
        _sub(release_deal, "Deal")  # no DealTerms: every deal for these releases ends
        return
    for model, uses in _DEALS:
        terms = _sub(_sub(release_deal, "Deal"), "DealTerms")
        for territory in release.territories:
            _sub(terms, "TerritoryCode", territory)
        _sub(_sub(terms, "ValidityPeriod"), "StartDate", release.release_date.isoformat())
        _sub(terms, "CommercialModelType", model)
        for use in uses:
            _sub(terms, "UseType", use)


def _titles(parent: ET.Element, title: str, version_title: str | None) -> None:
    _sub(parent, "DisplayTitleText", f"{title} ({version_title})" if version_title else title)
    display = _sub(parent, "DisplayTitle")
    _sub(display, "TitleText", title)
    if version_title:
        _sub(display, "SubTitle", version_title, SubTitleType="Version")


def _artists(parent: ET.Element, artists: Sequence[ErnArtist], parties: _Parties) -> None:
    _sub(parent, "DisplayArtistName", _artist_name(artists))
    for sequence, artist in enumerate(artists, start=1):
        element = _sub(parent, "DisplayArtist", SequenceNumber=str(sequence))
        _sub(element, "ArtistPartyReference", parties.ref(artist.name))
        role, artistic_role = _ARTIST_ROLES[artist.role]
        _sub(element, "DisplayArtistRole", role)
        if artistic_role is not None:
            _sub(element, "ArtisticRole", artistic_role)


def _artist_name(artists: Sequence[ErnArtist]) -> str:
    """The credit as stores print it: "A & B feat. C"; remixers belong in the version title."""
    main = [artist.name for artist in artists if artist.role == "main"]
    if not main:
        return _joined([artist.name for artist in artists])
    featured = [artist.name for artist in artists if artist.role == "featured"]
    return f"{_joined(main)} feat. {_joined(featured)}" if featured else _joined(main)


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} & {names[-1]}"


def _cover_art(parent: ET.Element, image_ref: str | None) -> None:
    if image_ref is not None:
        _sub(parent, "LinkedReleaseResourceReference", image_ref, LinkDescription="CoverArt")


def _genre(parent: ET.Element, release: ErnRelease) -> None:
    genre = _sub(parent, "Genre")
    _sub(genre, "GenreText", release.genre)
    if release.sub_genre:
        _sub(genre, "SubGenre", release.sub_genre)


def _rights_line(parent: ET.Element, tag: str, year: int, owner: str) -> None:
    line = _sub(parent, tag)
    _sub(line, "Year", str(year))
    _sub(line, f"{tag}Company", owner)
    _sub(line, f"{tag}Text", p_line(year, owner) if tag == "PLine" else c_line(year, owner))


def _namespace(sender: Party) -> str:
    return f"DPID:{sender.party_id}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root)
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="UTF-8", xml_declaration=True)
    return buffer.getvalue()
