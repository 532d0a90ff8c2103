"""ISRC, UPC/EAN, territory, language and ℗/© line normalization: good forms in, one form
out, and every refusal by its stable code."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crosspost.distribution.identifiers import (
    c_line,
    gtin_check_digit,
    normalize_gtin,
    normalize_isrc,
    normalize_language,
    normalize_territories,
    p_line,
)
from crosspost.errors import InvalidInput

# Published examples: the ISRC from the IFPI handbook, a UPC-A and an EAN-13 off real packs.
ISRC = "USRC17607839"
UPC = "036000291452"
EAN = "4006381333931"
Line = Callable[[int, str], str]


@pytest.mark.parametrize(
    "typed",
    [
        ISRC,
        "usrc17607839",
        "US-RC1-76-07839",
        "us rc1 76 07839",
        " US-RC1-76-07839 ",
        "UsRc1760 7839",
    ],
)
def test_isrc_typed_any_way_comes_back_compact(typed: str) -> None:
    """Hyphens, spaces and lower case are what people paste; the compact form is returned."""
    assert normalize_isrc(typed) == ISRC


def test_isrc_registrant_may_hold_digits() -> None:
    """The registrant is alphanumeric (e.g. "A1B"), unlike the country code."""
    assert normalize_isrc("gb-a1b-26-00001") == "GBA1B2600001"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("USRC1760783", "has 11 characters"),  # one digit short
        ("USRC176078391", "has 13 characters"),  # one digit too many
        ("", "has 0 characters"),
        ("U1RC17607839", "country code 'U1' must be 2 letters"),
        ("USR!17607839", "registrant code 'R!1' must be letters or digits"),
        ("USRC1X607839", "year 'X6' must be 2 digits"),
        ("USRC1760783O", "designation '0783O' must be 5 digits"),  # letter O for zero
        ("USRC17_07839", "year '7_' must be 2 digits"),
        ("USRC17607839".replace("S", "\u017f"), "characters other than letters and digits"),
        ("USRC1760783\uff19", "characters other than letters and digits"),  # full-width 9
    ],
)
def test_malformed_isrc_is_refused_with_what_is_wrong(typed: str, says: str) -> None:
    """Each refusal names the faulty part and shows the expected form with an example."""
    with pytest.raises(InvalidInput) as caught:
        normalize_isrc(typed)
    assert caught.value.code == "invalid_isrc"
    assert says in caught.value.detail
    assert "an ISRC is 12 characters" in caught.value.detail
    assert "like USRC17607839" in caught.value.detail


def test_isrc_refusal_lists_every_wrong_part() -> None:
    """Two wrong parts are both named, so one correction fixes the code."""
    with pytest.raises(InvalidInput) as caught:
        normalize_isrc("1SRC1760783A")
    assert "country code '1S'" in caught.value.detail
    assert "designation '0783A'" in caught.value.detail


def test_long_input_is_not_echoed_whole() -> None:
    """A pasted paragraph is cut short in the message."""
    with pytest.raises(InvalidInput) as caught:
        normalize_isrc("X" * 5000)
    assert caught.value.code == "invalid_isrc"
    assert len(caught.value.detail) < 400


@pytest.mark.parametrize(
    ("body", "digit"),
    [("03600029145", 2), ("400638133393", 1), ("978030640615", 7), ("9638507", 4)],
)
def test_gtin_check_digit_matches_published_codes(body: str, digit: int) -> None:
    """UPC-A, EAN-13, an ISBN-13 and a GTIN-8 body give their printed check digits."""
    assert gtin_check_digit(body) == digit


@pytest.mark.parametrize("body", ["", "03600029145A", "\uff10\uff13\uff16"])
def test_gtin_check_digit_wants_ascii_digits(body: str) -> None:
    """The body is a programmer's input here: anything but digits is a ValueError."""
    with pytest.raises(ValueError, match="digits"):
        gtin_check_digit(body)


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        (UPC, UPC),
        ("0 36000 29145 2", UPC),
        ("0-36000-29145-2", UPC),
        (EAN, EAN),
        ("4 006381 333931", EAN),
        ("10036000291459", "10036000291459"),  # GTIN-14 with packaging indicator 1
        ("00036000291452", "00036000291452"),  # a UPC written as GTIN-14 is kept at 14
    ],
)
def test_valid_upc_ean_and_gtin14_keep_their_length(typed: str, digits: str) -> None:
    """Separators go; the digits keep the length given (a UPC is not padded to 13)."""
    assert normalize_gtin(typed) == digits


@pytest.mark.parametrize(
    ("typed", "right", "wrong"),
    [
        ("036000291453", 2, 3),  # UPC, check digit one too high
        ("036000291451", 2, 1),  # one too low
        ("4006381333932", 1, 2),  # EAN
        ("4006381333930", 1, 0),
        ("036000291462", 9, 2),  # a body digit mistyped (5 -> 6): the check digit catches it
    ],
)
def test_wrong_check_digit_names_the_right_one(typed: str, right: int, wrong: int) -> None:
    """The message gives the check digit that would be right, so a typo is found fast."""
    with pytest.raises(InvalidInput) as caught:
        normalize_gtin(typed)
    assert caught.value.code == "upc_check_digit"
    assert f"the check digit should be {right}, not {wrong}" in caught.value.detail


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("03600029145", "has 11 digits"),
        ("400638133393100", "has 15 digits"),
        ("12345678", "has 8 digits"),  # GTIN-8 is for small packs, not releases
        ("03600029145A", "characters other than digits"),
        ("O36000291452", "characters other than digits"),  # letter O
        ("036000.291452", "characters other than digits"),
        ("٠٣٦٠٠٠٢٩١٤٥٢", "characters other than digits"),  # Arabic-Indic digits
        ("", "has 0 digits"),
    ],
)
def test_upc_of_wrong_length_or_characters_is_refused(typed: str, says: str) -> None:
    """Wrong lengths and non-digits are `invalid_upc`, with the expected lengths shown."""
    with pytest.raises(InvalidInput) as caught:
        normalize_gtin(typed)
    assert caught.value.code == "invalid_upc"
    assert says in caught.value.detail
    assert "a UPC is 12 digits and an EAN 13" in caught.value.detail


def test_gtin_message_names_what_it_checks() -> None:
    """`what` names the field in the message (an ICPN, a UPC...)."""
    with pytest.raises(InvalidInput) as caught:
        normalize_gtin("036000291453", what="ICPN")
    assert caught.value.detail.startswith("the ICPN 036000291453")


@pytest.mark.parametrize(
    "typed", [["Worldwide"], ["worldwide"], ["WW"], ["ww", " WORLDWIDE "], [" Worldwide"]]
)
def test_worldwide_alone_means_everywhere(typed: list[str]) -> None:
    """Any spelling of Worldwide (or WW), even repeated, is the one DDEX value."""
    assert normalize_territories(typed) == ["Worldwide"]


def test_territories_are_upper_cased_deduplicated_in_order() -> None:
    """Mixed case and duplicates collapse to ISO codes, first mention wins the order."""
    assert normalize_territories(["us", "GB", " de ", "Us", "gb", "FR"]) == ["US", "GB", "DE", "FR"]


@pytest.mark.parametrize(
    ("typed", "names"),
    [
        (["XX"], "'XX'"),
        (["US", "xx", "GB", "YY"], "codes 'XX', 'YY'"),
        (["UK"], "'UK'"),  # the United Kingdom is GB in ISO 3166
        (["USA"], "'USA'"),  # alpha-3 is not what DDEX carries
        (["EU"], "'EU'"),  # reserved, not a country
        ([""], "''"),
        (["U"], "'U'"),
    ],
)
def test_unknown_territory_is_refused_by_name(typed: list[str], names: str) -> None:
    """Every unknown code is named in one refusal."""
    with pytest.raises(InvalidInput) as caught:
        normalize_territories(typed)
    assert caught.value.code == "invalid_territory"
    assert names in caught.value.detail
    assert "ISO 3166-1" in caught.value.detail


@pytest.mark.parametrize("typed", [["Worldwide", "US"], ["us", "WW"], ["WW", "XX"]])
def test_worldwide_mixed_with_codes_is_refused(typed: list[str]) -> None:
    """Worldwide plus countries is ambiguous (did they mean to exclude?): refused."""
    with pytest.raises(InvalidInput) as caught:
        normalize_territories(typed)
    assert caught.value.code == "invalid_territory"
    assert "Worldwide already covers every territory" in caught.value.detail


def test_no_territory_is_refused() -> None:
    """An empty list would release nowhere."""
    with pytest.raises(InvalidInput) as caught:
        normalize_territories([])
    assert caught.value.code == "invalid_territory"
    assert "at least one territory" in caught.value.detail


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("en", "en"),
        ("EN", "en"),
        (" fr ", "fr"),
        ("pt-BR", "pt-BR"),
        ("pt-br", "pt-BR"),
        ("PT_br", "pt-BR"),
        ("en-GB", "en-GB"),
    ],
)
def test_language_and_region_are_normalized(typed: str, normal: str) -> None:
    """Language lower-case, region upper-case, joined by a hyphen as BCP 47 writes it."""
    assert normalize_language(typed) == normal


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("zz", "'zz' is not an ISO 639-1 language"),
        ("iw", "'iw' is not an ISO 639-1 language"),  # withdrawn: Hebrew is "he"
        ("zz-US", "'zz' is not an ISO 639-1 language"),
        ("pt-XX", "'XX' in 'pt-XX' is not an ISO 3166-1 region"),
        ("eng", "'eng' is not a language code"),  # ISO 639-2/3, not 639-1
        ("english", "is not a language code"),
        ("en-", "is not a language code"),
        ("en-USA", "is not a language code"),
        ("es-419", "is not a language code"),  # UN M.49 regions are not taken
        ("", "is not a language code"),
        ("ẹn", "is not a language code"),
    ],
)
def test_unknown_language_or_region_is_refused(typed: str, says: str) -> None:
    """Unknown languages, unknown regions and other shapes are `invalid_language`."""
    with pytest.raises(InvalidInput) as caught:
        normalize_language(typed)
    assert caught.value.code == "invalid_language"
    assert says in caught.value.detail
    assert "en, pt-BR" in caught.value.detail


def test_p_and_c_lines() -> None:
    """℗ for the sound recording, © for artwork and text; the owner is tidied to one line."""
    assert p_line(2026, "Owner") == "℗ 2026 Owner"
    assert c_line(2026, "  Owner Records  ") == "© 2026 Owner Records"
    assert p_line(1900, "A\n  B") == "℗ 1900 A B"
    assert c_line(2100, "Z") == "© 2100 Z"


@pytest.mark.parametrize("year", [1899, 2101, 0, -2026, 26])
@pytest.mark.parametrize("line", [p_line, c_line])
def test_copyright_year_out_of_range_is_refused(line: Line, year: int) -> None:
    """Years before 1900 or after 2100 (or two-digit years) are refused."""
    with pytest.raises(InvalidInput) as caught:
        line(year, "Owner")
    assert caught.value.code == "invalid_copyright_year"
    assert "between 1900 and 2100" in caught.value.detail


@pytest.mark.parametrize(
    "owner", ["", "   ", "\n\t", "℗ 2026 Label", "© Label", "(P) 2026 Label", "(c) Label"]
)
@pytest.mark.parametrize("line", [p_line, c_line])
def test_empty_or_symbol_prefixed_owner_is_refused(line: Line, owner: str) -> None:
    """An empty owner, or one that already carries a symbol (it would print twice)."""
    with pytest.raises(InvalidInput) as caught:
        line(2026, owner)
    assert caught.value.code == "invalid_copyright_owner"
