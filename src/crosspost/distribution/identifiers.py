"""The identifiers and codes a DDEX release carries: ISRC, UPC/EAN, territories, languages,
and the ℗ and © lines.

Each `normalize_*` takes what a person typed (spaces, hyphens, any case) and returns the one
form DDEX messages carry, or raises InvalidInput with a stable code and the expected form.
"""

from __future__ import annotations

import re

import pycountry

from crosspost.errors import InvalidInput

ISRC_FORM = (
    "an ISRC is 12 characters: country (2 letters), registrant (3 letters or digits), "
    "year (2 digits), designation (5 digits), like USRC17607839"
)
GTIN_FORM = "a UPC is 12 digits and an EAN 13 (a GTIN-14 also works), like 036000291452"
TERRITORY_FORM = "use ISO 3166-1 two-letter country codes like US, GB or DE, or Worldwide alone"
LANGUAGE_FORM = "use an ISO 639-1 two-letter language code, alone or with a region: en, pt-BR"
WORLDWIDE = "Worldwide"

_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_ISRC_PARTS = (
    (0, 2, re.compile(r"[A-Z]{2}"), "the country code {part!r} must be 2 letters"),
    (2, 5, re.compile(r"[A-Z0-9]{3}"), "the registrant code {part!r} must be letters or digits"),
    (5, 7, re.compile(r"[0-9]{2}"), "the year {part!r} must be 2 digits"),
    (7, 12, re.compile(r"[0-9]{5}"), "the designation {part!r} must be 5 digits"),
)
_GTIN_LENGTHS = (12, 13, 14)
_DIGITS = re.compile(r"[0-9]*")  # ASCII only: str.isdigit() also takes other scripts' digits
_ALPHA_2 = re.compile(r"[A-Z]{2}")
_LANGUAGE = re.compile(r"([a-z]{2})(?:[-_]([a-z]{2}))?")
_SEPARATORS = re.compile(r"[\s-]+")
_MIN_YEAR, _MAX_YEAR = 1900, 2100
# An owner typed with its own symbol or year ("(P) 2026 Label") would print the symbol twice.
_SYMBOL_PREFIX = re.compile(r"(℗|©|\([pc]\))", re.IGNORECASE)


def _shown(value: str, limit: int = 40) -> str:
    """`value` quoted for a message, cut short so a pasted essay is not echoed back."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", value)


def normalize_isrc(value: str) -> str:
    """The ISRC (ISO 3901) in `value` as 12 upper-case characters, e.g. "USRC17607839"."""
    compact = _compact(value)
    # Checked before upper-casing: str.upper() maps some non-ASCII letters onto ASCII ones
    # (the long s becomes "S"), which must not turn a wrong code into a valid-looking one.
    if not compact.isascii():
        raise InvalidInput(
            f"{_shown(value)} has characters other than letters and digits; {ISRC_FORM}",
            code="invalid_isrc",
        )
    compact = compact.upper()
    if len(compact) != 12:
        raise InvalidInput(
            f"{_shown(value)} has {len(compact)} characters without spaces and hyphens; "
            f"{ISRC_FORM}",
            code="invalid_isrc",
        )
    if not _ISRC.fullmatch(compact):
        wrong = [
            problem.format(part=compact[start:end])
            for start, end, pattern, problem in _ISRC_PARTS
            if not pattern.fullmatch(compact[start:end])
        ]
        raise InvalidInput(f"{'; '.join(wrong)}; {ISRC_FORM}", code="invalid_isrc")
    return compact


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body`, the digits before it (ValueError if not digits).

    Weights run 3, 1, 3, ... from the digit next to the check digit, so one rule serves
    GTIN-8, UPC-A (GTIN-12), EAN-13 and GTIN-14.
    """
    if not body or _DIGITS.fullmatch(body) is None:
        raise ValueError(f"a GTIN body is digits, not {body!r}")
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(body)))
    return -total % 10


def normalize_gtin(value: str, *, what: str = "UPC/EAN") -> str:
    """A release's UPC (12 digits), EAN-13 or GTIN-14 as digits, its check digit verified.

    The length is kept as given: a UPC is not padded to 13 digits, since DDEX ICPNs and the
    stores carry the code as the label registered it.
    """
    digits = _compact(value)
    all_digits = _DIGITS.fullmatch(digits) is not None
    if not all_digits or len(digits) not in _GTIN_LENGTHS:
        found = f"{len(digits)} digits" if all_digits else "characters other than digits"
        raise InvalidInput(
            f"the {what} {_shown(value)} has {found}; {GTIN_FORM}", code="invalid_upc"
        )
    expected = gtin_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        raise InvalidInput(
            f"the {what} {digits} is mistyped: the check digit should be {expected}, "
            f"not {digits[-1]}; copy the code again from the barcode or its registration",
            code="upc_check_digit",
        )
    return digits


def _is_worldwide(value: str) -> bool:
    return value.strip().upper() in ("WORLDWIDE", "WW")


def normalize_territories(values: list[str]) -> list[str]:
    """["Worldwide"], or the ISO 3166-1 alpha-2 codes upper-cased, de-duplicated, in order."""
    if not values:
        raise InvalidInput(
            f"name at least one territory to release in; {TERRITORY_FORM}",
            code="invalid_territory",
        )
    if any(_is_worldwide(value) for value in values):
        others = [_shown(value.strip()) for value in values if not _is_worldwide(value)]
        if others:
            raise InvalidInput(
                f"Worldwide already covers every territory, so {', '.join(others)} cannot "
                f"be listed with it; {TERRITORY_FORM}",
                code="invalid_territory",
            )
        return [WORLDWIDE]
    codes = list(dict.fromkeys(value.strip().upper() for value in values))
    unknown = [code for code in codes if not _is_country(code)]
    if unknown:
        shown = ", ".join(_shown(code) for code in unknown)
        raise InvalidInput(
            f"unknown territory code{'s' if len(unknown) > 1 else ''} {shown}; {TERRITORY_FORM}",
            code="invalid_territory",
        )
    return codes


def _is_country(code: str) -> bool:
    return bool(_ALPHA_2.fullmatch(code)) and pycountry.countries.get(alpha_2=code) is not None


def normalize_language(value: str) -> str:
    """An ISO 639-1 code ("en") or language and region ("pt-BR"; "pt_BR" is accepted too)."""
    match = _LANGUAGE.fullmatch(value.strip().lower()) if value.isascii() else None
    if match is None:
        raise InvalidInput(
            f"{_shown(value)} is not a language code; {LANGUAGE_FORM}", code="invalid_language"
        )
    language, region = match.group(1), match.group(2)
    if pycountry.languages.get(alpha_2=language) is None:
        raise InvalidInput(
            f"{language!r} is not an ISO 639-1 language; {LANGUAGE_FORM}",
            code="invalid_language",
        )
    if region is None:
        return language
    region = region.upper()
    if pycountry.countries.get(alpha_2=region) is None:
        raise InvalidInput(
            f"{region!r} in {_shown(value)} is not an ISO 3166-1 region; {LANGUAGE_FORM}",
            code="invalid_language",
        )
    return f"{language}-{region}"


def p_line(year: int, owner: str) -> str:
    """The sound recording's copyright line: "℗ 2026 Owner"."""
    return f"℗ {_copyright_year(year)} {_copyright_owner(owner, '℗')}"


def c_line(year: int, owner: str) -> str:
    """The copyright line of the artwork and text: "© 2026 Owner"."""
    return f"© {_copyright_year(year)} {_copyright_owner(owner, '©')}"


def _copyright_year(year: int) -> int:
    if isinstance(year, bool) or not _MIN_YEAR <= year <= _MAX_YEAR:
        raise InvalidInput(
            f"the copyright year {year} is out of range; give the year of first publication, "
            f"between {_MIN_YEAR} and {_MAX_YEAR}",
            code="invalid_copyright_year",
        )
    return year


def _copyright_owner(owner: str, symbol: str) -> str:
    # Runs of whitespace (a pasted line break) become one space: the line is one XML value.
    cleaned = " ".join(owner.split())
    if not cleaned:
        raise InvalidInput(
            "the copyright owner is empty; give the name of the person or company that owns it",
            code="invalid_copyright_owner",
        )
    if _SYMBOL_PREFIX.match(cleaned):
        raise InvalidInput(
            f"the copyright owner {_shown(cleaned)} starts with a copyright symbol; give the "
            f"owner's name alone: the {symbol} and the year are added",
            code="invalid_copyright_owner",
        )
    return cleaned
