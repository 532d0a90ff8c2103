"""DDEX ERN 4.3 messages: each one validates against DDEX's own schema and says what the
release says (identifiers, order, deals, files), whatever characters its titles hold."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
import xmlschema

from crosspost.distribution.ern import (
    NAMESPACE,
    ErnArtist,
    ErnContributor,
    ErnImage,
    ErnRelease,
    ErnTrack,
    Party,
    iso_duration,
    new_release_message,
    takedown_message,
)
from crosspost.domain.music import ArtistRole, ContributorRole
from tests.ddex import ern_schema

ROOT = Path(__file__).parents[2]
# Beside the checkout (../shared), where this workplace keeps it, or where the variable says.
SENDER = Party("PADPIDA2014120301H", "Crosspost Distribution")
RECIPIENT = Party("PADPIDA2011072101T", "A Store")
CREATED = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
GOES_LIVE = date(2026, 3, 6)
UPC = "036000291452"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    """DDEX's ERN 4.3 schema (loaded once a process)."""
    return ern_schema()


def track(number: int = 1, **changes: Any) -> ErnTrack:
    """A track whose ISRC, file and hash follow `number`."""
    fields: dict[str, Any] = {
        "isrc": f"USRC1760{number:04d}",
        "title": f"Track {number}",
        "artists": [ErnArtist("Nadia Vale")],
        "duration_seconds": 201,
        "language": "en",
        "preview_start_seconds": 30,
        "file_name": f"resources/A{number}.flac",
        "md5": f"{number:032x}",
        "size_bytes": 31_457_280 + number,
        "audio_codec": "FLAC",
        "bit_depth": 24,
        "sample_rate": 48_000,
        "channels": 2,
        "p_line_year": 2026,
        "p_line_owner": "Northbound Records",
    }
    return ErnTrack(**(fields | changes))


def release(**changes: Any) -> ErnRelease:
    """A worldwide single with artwork, going live on GOES_LIVE."""
    fields: dict[str, Any] = {
        "upc": UPC,
        "title": "Low Tide",
        "release_type": "single",
        "artists": [ErnArtist("Nadia Vale")],
        "label": "Northbound Records",
        "genre": "Electronic",
        "sub_genre": "Ambient",
        "language": "en",
        "p_line": (2026, "Northbound Records"),
        "c_line": (2026, "Northbound Records"),
        "release_date": GOES_LIVE,
        "tracks": [track()],
        "image": ErnImage(
            file_name="resources/cover.jpg",
            md5="9e107d9d372bb6826bd81d3542a419d6",
            width=3000,
            height=3000,
            image_codec="JPEG",
        ),
    }
    return ErnRelease(**(fields | changes))


def message(subject: ErnRelease, *, update: bool = False) -> bytes:
    """A NewReleaseMessage for `subject` from SENDER to RECIPIENT."""
    return new_release_message(
        subject,
        sender=SENDER,
        recipient=RECIPIENT,
        message_id="MSG-1",
        thread_id="THREAD-1",
        created_at=CREATED,
        update=update,
    )


def takedown(subject: ErnRelease) -> bytes:
    """A takedown of `subject` from SENDER to RECIPIENT."""
    return takedown_message(
        subject,
        sender=SENDER,
        recipient=RECIPIENT,
        message_id="MSG-2",
        thread_id="THREAD-1",
        created_at=CREATED,
    )


def valid(schema: xmlschema.XMLSchema, xml: bytes) -> ET.Element:
    """`xml` parsed, once the schema has found nothing wrong with it (else its first error)."""
    error = next(schema.iter_errors(xml), None)
    assert error is None, f"{error.reason} at {error.path}"
    return ET.fromstring(xml)  # noqa: S314 - our own output, not untrusted input


def texts(root: ET.Element, path: str) -> list[str]:
    """The text of every element at `path`."""
    return [element.text or "" for element in root.iterfind(path)]


def test_single_worldwide_validates_and_says_what_the_release_says(
    schema: xmlschema.XMLSchema,
) -> None:
    """One track, worldwide: identifiers, durations, files and deals are all there."""
    xml = message(release())
    root = valid(schema, xml)

    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<ern:NewReleaseMessage")
    assert root.tag == f"{{{NAMESPACE}}}NewReleaseMessage"
    assert root.get("LanguageAndScriptCode") == "en"
    assert root.get("AvsVersionId") == "3"
    assert texts(root, "MessageHeader/MessageId") == ["MSG-1"]
    assert texts(root, "MessageHeader/MessageThreadId") == ["THREAD-1"]
    assert texts(root, "MessageHeader/MessageSender/PartyId") == [SENDER.party_id]
    assert texts(root, "MessageHeader/MessageRecipient/PartyName/FullName") == [RECIPIENT.name]
    assert texts(root, "MessageHeader/MessageCreatedDateTime") == ["2026-02-01T09:30:00+00:00"]

    recording = root.find("ResourceList/SoundRecording")
    assert recording is not None
    assert texts(recording, "SoundRecordingEdition/ResourceId/ISRC") == ["USRC17600001"]
    assert texts(recording, "Duration") == ["PT3M21S"]
    delivery = "SoundRecordingEdition/TechnicalDetails/DeliveryFile"
    assert texts(recording, f"{delivery}/File/URI") == ["resources/A1.flac"]
    assert texts(recording, f"{delivery}/File/HashSum/Algorithm") == ["MD5"]
    assert texts(recording, f"{delivery}/File/HashSum/HashSumValue") == [f"{1:032x}"]
    assert texts(recording, f"{delivery}/AudioCodecType") == ["FLAC"]
    assert texts(recording, f"{delivery}/SamplingRate") == ["48000"]
    assert texts(recording, f"{delivery}/IsProvidedInDelivery") == ["true"]
    preview = "SoundRecordingEdition/TechnicalDetails/ClipDetails"
    assert texts(recording, f"{preview}/ClipType") == ["Preview"]
    assert texts(recording, f"{preview}/Timing/StartPoint") == ["30"]
    assert texts(root, "ResourceList/Image/Type") == ["FrontCoverImage"]
    assert texts(root, "ResourceList/Image/TechnicalDetails/File/HashSum/HashSumValue") == [
        "9e107d9d372bb6826bd81d3542a419d6"
    ]

    main = root.find("ReleaseList/Release")
    assert main is not None
    assert texts(main, "ReleaseType") == ["Single"]
    assert texts(main, "ReleaseId/ICPN") == [UPC]
    assert texts(main, "Duration") == ["PT3M21S"]
    assert texts(main, "PLine/PLineText") == ["℗ 2026 Northbound Records"]
    assert texts(main, "CLine/CLineText") == ["© 2026 Northbound Records"]
    assert texts(main, "ParentalWarningType") == ["NotExplicit"]
    assert texts(main, "ResourceGroup/ResourceGroupContentItem/LinkedReleaseResourceReference") == [
        "A2"
    ]
    assert texts(root, "ReleaseList/TrackRelease/ReleaseResourceReference") == ["A1"]

    assert texts(root, "DealList/ReleaseDeal/DealReleaseReference") == ["R0", "R1"]
    deals = root.findall("DealList/ReleaseDeal/Deal/DealTerms")
    assert [texts(deal, "TerritoryCode") for deal in deals] == [["Worldwide"]] * 3
    assert {d for deal in deals for d in texts(deal, "ValidityPeriod/StartDate")} == {"2026-03-06"}
    assert [texts(deal, "CommercialModelType") for deal in deals] == [
        ["SubscriptionModel"],
        ["AdvertisementSupportedModel"],
        ["PayAsYouGoModel"],
    ]
    assert [texts(deal, "UseType") for deal in deals] == [
        ["OnDemandStream", "NonInteractiveStream"],
        ["OnDemandStream", "NonInteractiveStream"],
        ["PermanentDownload"],
    ]


def test_album_keeps_track_order_credits_and_territories(schema: xmlschema.XMLSchema) -> None:
    """Three tracks in order, featured artists, a remixer, every contributor role, two
    territories; each name is one Party however often it is credited."""
    roles = get_args(ContributorRole)
    tracks = [
        track(1, explicit=True, audio_codec="WAV", bit_depth=16, sample_rate=44_100),
        track(
            2,
            artists=[ErnArtist("Nadia Vale"), ErnArtist("Ibrahim Okafor", "featured")],
            contributors=[ErnContributor(f"Person {role}", role) for role in roles],
            duration_seconds=3723.25,
        ),
        track(
            3,
            version_title="Okafor Remix",
            artists=[ErnArtist("Nadia Vale"), ErnArtist("Ibrahim Okafor", "remixer")],
            contributors=[ErnContributor("Nadia Vale", "composer")],
        ),
    ]
    root = valid(
        schema,
        message(
            release(
                release_type="album",
                artists=[ErnArtist("Nadia Vale"), ErnArtist("Sol Reyes")],
                tracks=tracks,
                territories=["DE", "FR"],
                original_release_date=date(2019, 5, 17),
            )
        ),
    )

    isrcs = ["USRC17600001", "USRC17600002", "USRC17600003"]
    assert texts(root, "ResourceList/SoundRecording/SoundRecordingEdition/ResourceId/ISRC") == isrcs
    assert texts(root, "ReleaseList/TrackRelease/ReleaseId/ProprietaryId") == isrcs
    items = root.findall("ReleaseList/Release/ResourceGroup/ResourceGroupContentItem")
    assert [(texts(i, "SequenceNumber"), texts(i, "ReleaseResourceReference")) for i in items] == [
        (["1"], ["A1"]),
        (["2"], ["A2"]),
        (["3"], ["A3"]),
    ]
    assert texts(root, "ResourceList/Image/ResourceReference") == ["A4"]
    assert texts(root, "ResourceList/SoundRecording/Duration") == [
        "PT3M21S",
        "PT1H2M3.25S",
        "PT3M21S",
    ]
    assert texts(root, "ResourceList/SoundRecording/ParentalWarningType") == [
        "Explicit",
        "NotExplicit",
        "NotExplicit",
    ]
    first = "ResourceList/SoundRecording/SoundRecordingEdition/TechnicalDetails/DeliveryFile"
    assert texts(root, f"{first}/AudioCodecType")[0] == "PCM"  # a WAV master is PCM audio

    main = root.find("ReleaseList/Release")
    assert main is not None
    assert texts(main, "ReleaseType") == ["Album"]
    assert texts(main, "DisplayArtistName") == ["Nadia Vale & Sol Reyes"]
    assert texts(main, "ParentalWarningType") == ["Explicit"]
    assert texts(main, "OriginalReleaseDate") == ["2019-05-17"]
    assert texts(main, "ReleaseDate") == ["2026-03-06"]
    assert texts(main, "Duration") == ["PT1H8M45.25S"]

    second, third = root.findall("ResourceList/SoundRecording")[1:]
    assert texts(second, "DisplayArtistName") == ["Nadia Vale feat. Ibrahim Okafor"]
    assert texts(second, "DisplayArtist/DisplayArtistRole") == ["MainArtist", "FeaturedArtist"]
    assert texts(second, "Contributor/Role") == [
        "Composer",
        "Lyricist",
        "StudioProducer",
        "Arranger",
        "MixingEngineer",
        "MasteringEngineer",
        "Performer",
    ]
    assert texts(third, "DisplayArtistName") == ["Nadia Vale"]
    assert texts(third, "DisplayArtist/DisplayArtistRole") == ["MainArtist", "Artist"]
    assert texts(third, "DisplayArtist/ArtisticRole") == ["Remixer"]
    assert texts(third, "DisplayTitleText") == ["Track 3 (Okafor Remix)"]
    assert texts(third, "DisplayTitle/SubTitle") == ["Okafor Remix"]

    names = texts(root, "PartyList/Party/PartyName/FullName")
    assert len(names) == len(set(names))
    assert {"Nadia Vale", "Sol Reyes", "Ibrahim Okafor", "Northbound Records"} <= set(names)
    label = [
        party.findtext("PartyReference")
        for party in root.iterfind("PartyList/Party")
        if party.findtext("PartyName/FullName") == "Northbound Records"
    ]
    assert set(texts(root, "ReleaseList/*/ReleaseLabelReference")) == set(label)

    assert texts(root, "DealList/ReleaseDeal/DealReleaseReference") == ["R0", "R1", "R2", "R3"]
    deals = root.findall("DealList/ReleaseDeal/Deal/DealTerms")
    assert [texts(deal, "TerritoryCode") for deal in deals] == [["DE", "FR"]] * 3


def test_every_artist_role_is_one_the_schema_allows(schema: xmlschema.XMLSchema) -> None:
    """Each crosspost artist role maps onto DDEX's DisplayArtistRole values."""
    artists = [ErnArtist(f"Artist {role}", role) for role in get_args(ArtistRole)]
    valid(schema, message(release(tracks=[track(artists=artists)], artists=artists)))


def test_release_without_artwork_validates_and_links_no_image(schema: xmlschema.XMLSchema) -> None:
    """No image: no Image resource and no cover-art links, and the message still validates."""
    root = valid(schema, message(release(image=None, sub_genre=None)))

    assert root.find("ResourceList/Image") is None
    assert root.find(".//LinkedReleaseResourceReference") is None
    assert root.find("ReleaseList/Release/Genre/SubGenre") is None


@pytest.mark.parametrize(
    "title",
    [
        "Salt & Pepper",
        "x < y > z",
        "She said \"stay\" & 'go'",
        "夜明けのブルース",
        "ليلة في القاهرة",
        "]]> & <![CDATA[ &amp;",
    ],
)
def test_titles_and_names_round_trip_whatever_they_hold(
    schema: xmlschema.XMLSchema, title: str
) -> None:
    """Markup characters, quotes, Japanese and Arabic come back exactly as given."""
    subject = release(
        title=title,
        version_title=title,
        artists=[ErnArtist(title)],
        label=f"{title} Records",
        tracks=[track(title=title, version_title=title, artists=[ErnArtist(title)])],
    )
    xml = message(subject)
    root = valid(schema, xml)

    for path in ("ReleaseList/Release", "ResourceList/SoundRecording", "ReleaseList/TrackRelease"):
        assert texts(root, f"{path}/DisplayTitle/TitleText") == [title]
        assert texts(root, f"{path}/DisplayTitleText") == [f"{title} ({title})"]
    assert texts(root, "ReleaseList/Release/DisplayArtistName") == [title]
    assert set(texts(root, "PartyList/Party/PartyName/FullName")) == {title, f"{title} Records"}
    if not title.isascii():
        assert title.encode() in xml  # written as UTF-8, not as character references


def test_update_is_a_full_message_without_the_files(schema: xmlschema.XMLSchema) -> None:
    """An update carries the whole release and its deals again, its files marked as not in
    the delivery, so only the metadata is sent."""
    subject = release(tracks=[track(1), track(2)])
    first = valid(schema, message(subject))
    update = valid(schema, message(subject, update=True))

    assert update.find(".//File") is None
    assert set(texts(update, ".//IsProvidedInDelivery")) == {"false"}
    assert set(texts(first, ".//IsProvidedInDelivery")) == {"true"}
    assert texts(update, ".//ISRC") == texts(first, ".//ISRC")
    assert texts(update, "ResourceList/Image/TechnicalDetails/ImageCodecType") == ["JPEG"]
    assert texts(update, "DealList//TerritoryCode") == texts(first, "DealList//TerritoryCode")
    assert texts(update, "DealList//StartDate") == texts(first, "DealList//StartDate")


def test_takedown_ends_every_deal_of_every_release(schema: xmlschema.XMLSchema) -> None:
    """A takedown is the release sent again with one empty Deal for it and its tracks."""
    subject = release(tracks=[track(1), track(2)], territories=["DE", "FR"])
    root = valid(schema, takedown(subject))

    assert root.tag == f"{{{NAMESPACE}}}NewReleaseMessage"
    assert texts(root, "MessageHeader/MessageId") == ["MSG-2"]
    assert texts(root, "DealList/ReleaseDeal/DealReleaseReference") == ["R0", "R1", "R2"]
    deals = root.findall("DealList/ReleaseDeal/Deal")
    assert len(deals) == 1
    assert list(deals[0]) == []
    assert root.find(".//DealTerms") is None
    assert root.find(".//File") is None
    assert texts(root, "ReleaseList/Release/ReleaseId/ICPN") == [UPC]


def test_a_track_shorter_than_a_second_is_a_valid_duration(schema: xmlschema.XMLSchema) -> None:
    """0.4 s is written PT0.4S, which xs:duration accepts."""
    root = valid(schema, message(release(tracks=[track(duration_seconds=0.4)])))

    assert texts(root, "ResourceList/SoundRecording/Duration") == ["PT0.4S"]
    assert texts(root, "ReleaseList/Release/Duration") == ["PT0.4S"]


def test_an_instrumental_says_so(schema: xmlschema.XMLSchema) -> None:
    """A track in `zxx` (no linguistic content) is flagged instrumental."""
    root = valid(schema, message(release(tracks=[track(language="zxx")])))

    assert texts(root, "ResourceList/SoundRecording/IsInstrumental") == ["true"]
    assert texts(root, "ResourceList/SoundRecording/LanguageOfPerformance") == ["zxx"]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "PT0S"),
        (0.4, "PT0.4S"),
        (0.0004, "PT0S"),
        (59.9996, "PT1M"),
        (60, "PT1M"),
        (201, "PT3M21S"),
        (201.5, "PT3M21.5S"),
        (3600, "PT1H"),
        (3723.25, "PT1H2M3.25S"),
    ],
)
def test_iso_duration(seconds: float, expected: str) -> None:
    """Durations are ISO 8601, to the millisecond, with no empty parts."""
    assert iso_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [-1, math.nan, math.inf])
def test_iso_duration_refuses_what_is_not_a_duration(seconds: float) -> None:
    """Negative and non-finite durations are refused rather than written."""
    with pytest.raises(ValueError, match="finite number of seconds"):
        iso_duration(seconds)


def test_inputs_the_schema_would_refuse_are_refused_early() -> None:
    """A party without a DPID, a naive time, and a release without tracks fail at once."""
    with pytest.raises(ValueError, match="not a DPID"):
        Party("crosspost", "Crosspost")
    with pytest.raises(ValueError, match="time zone"):
        new_release_message(
            release(),
            sender=SENDER,
            recipient=RECIPIENT,
            message_id="MSG-1",
            thread_id="THREAD-1",
            created_at=CREATED.replace(tzinfo=None),
        )
    with pytest.raises(ValueError, match="at least one artist and one track"):
        release(tracks=[])
    with pytest.raises(ValueError, match="at least one artist"):
        replace(track(), artists=[])
