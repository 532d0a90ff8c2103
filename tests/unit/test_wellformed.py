"""What the edge finds wrong with a request's path, query, form and JSON body, and how it
says so: the parameter or field at fault, the offset, and what to send instead."""

from __future__ import annotations

import pytest

from crosspost.api.wellformed import (
    MAX_JSON_DEPTH,
    Flaw,
    content_length,
    json_flaw,
    pairs_flaw,
    url_flaw,
)
from crosspost.domain.bounds import INT64_MAX


def _flaw(found: Flaw | None, status: int, code: str, *words: str) -> Flaw:
    assert found is not None
    assert (found.status, found.code) == (status, code), found
    for word in words:
        assert word in found.detail, found.detail
    return found


@pytest.mark.parametrize(
    ("header", "length"),
    [
        ("0", 0),
        (" 42 ", 42),
        (b"1048576", 1048576),
        (str(2**64 - 1), INT64_MAX),
        ("9" * 5000, INT64_MAX),  # int() would refuse so many digits
        ("", None),
        ("-1", None),
        ("1e3", None),
        ("²", None),  # str.isdigit says yes; int says no
        ("١٢", None),
    ],
)
def test_content_length(header: str | bytes, length: int | None) -> None:
    """Only ASCII digits make a length, and none is past what a BIGINT holds."""
    assert content_length(header) == length


def test_plain_and_well_encoded_urls_pass() -> None:
    """Nothing escaped, or escapes of UTF-8, `+` for a space: nothing to say."""
    assert url_flaw(b"/v1/posts", b"limit=5&cursor=abc") is None
    assert url_flaw(b"/v1/posts/caf%C3%A9", b"q=caf%C3%A9+noir&x=%2B&empty=&flag") is None


def test_a_nul_in_a_query_parameter_names_the_parameter() -> None:
    """The fuzzer's `?cursor=%ff%00x`: the detail names `cursor`, not just "text"."""
    _flaw(url_flaw(b"/v1/posts", b"cursor=%ff%00x"), 400, "nul_character", "`cursor`", "%00")
    _flaw(url_flaw(b"/v1/posts", b"limit=2&a%00b=1"), 400, "nul_character", "name of", "`a")


def test_a_nul_in_the_path_says_the_path() -> None:
    """A NUL in the path is refused as the path's."""
    _flaw(url_flaw(b"/v1/posts/post_%00", b""), 400, "nul_character", "the path")


def test_non_utf8_and_broken_escapes_say_where() -> None:
    """A decoded byte that is not UTF-8, or a `%` that starts no escape: the parameter (or
    the path), the offset in the raw URL and what to write instead."""
    found = _flaw(
        url_flaw(b"/v1/posts", b"limit=5&cursor=ab%FFc"),
        400,
        "invalid_encoding",
        "`cursor`",
        "0xFF",
        "offset 17",
        "UTF-8",
    )
    assert "%C3%A9" in found.detail
    _flaw(url_flaw(b"/v1/posts", b"cursor=%C3"), 400, "invalid_encoding", "cuts a character")
    _flaw(url_flaw(b"/v1/posts", b"cursor=50%"), 400, "invalid_encoding", "'%'", "%25")
    _flaw(url_flaw(b"/v1/posts", b"cursor=%zz"), 400, "invalid_encoding", "'%zz'", "offset 7")
    _flaw(url_flaw(b"/v1/posts/%FF", b""), 400, "invalid_encoding", "the path", "offset 10")
    _flaw(url_flaw(b"/v1/posts/\xc3\xa9", b""), 400, "invalid_encoding", "raw byte 0xC3")


def test_form_fields_are_checked_like_a_query() -> None:
    """The OAuth token form: a NUL names the form field."""
    _flaw(
        pairs_flaw(b"grant_type=client_credentials&client_id=%00", "form field"),
        400,
        "nul_character",
        "form field `client_id`",
    )
    assert pairs_flaw(b"grant_type=client_credentials&scope=a+b", "form field") is None


def test_well_formed_json_passes() -> None:
    """Ordinary bodies, a UTF-8 byte order mark, escaped non-BMP characters and a text that
    merely mentions \\u0000 all pass."""
    for body in (
        b'{"text": "hi", "targets": ["x"]}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"emoji": "\\ud83d\\ude00", "e": "\xc3\xa9"}',
        b'{"doc": "write \\\\u0000 to mean NUL"}',
        b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
        b'{"n": 12345678901234567890123, "f": 1.5e300}',
    ):
        assert json_flaw(body) is None, body


def test_deep_json_names_the_limit() -> None:
    """One level past the limit, and far past what the parser can follow, both say the
    limit (a 400 the caller can act on, not "error parsing the body")."""
    deeper = MAX_JSON_DEPTH + 1
    found = _flaw(
        json_flaw(b'{"a": ' + b"[" * deeper + b"]" * deeper + b"}"),
        400,
        "json_too_deep",
        f"{deeper + 1} levels",
        f"at most {MAX_JSON_DEPTH}",
    )
    assert found.extra == {"max_depth": MAX_JSON_DEPTH}
    _flaw(json_flaw(b"[" * 100_000), 400, "json_too_deep", f"at most {MAX_JSON_DEPTH}")


def test_encodings_other_than_utf8_say_send_utf8() -> None:
    """Latin-1, UTF-16 with or without a byte order mark: the offset, and send UTF-8."""
    found = _flaw(json_flaw(b'{"text": "caf\xe9"}'), 400, "invalid_encoding", "offset 13", "UTF-8")
    assert found.extra == {"offset": 13}
    body = '{"text": "x"}'
    _flaw(json_flaw(body.encode("utf-16")), 400, "invalid_encoding", "UTF-16", "UTF-8")
    _flaw(json_flaw(body.encode("utf-16-le")), 400, "invalid_encoding", "NUL byte", "UTF-8")


def test_invalid_json_gives_line_and_column() -> None:
    """The parser's complaint with its line and column, also as members."""
    found = _flaw(json_flaw(b'{\n  "text": "x",,\n}'), 400, "invalid_json", "line 2, column 15")
    assert found.extra == {"line": 2, "column": 15}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b'{"a": -Infinity}', "-Infinity is not a JSON value"),
        (b'{"a": 1e400}', "1e400 is too large"),
        (b'{"a": ' + b"9" * 5000 + b"}", "more than 4300 digits"),
    ],
)
def test_numbers_python_would_take_but_json_and_databases_do_not(body: bytes, words: str) -> None:
    """NaN and Infinity (which PostgreSQL's JSONB refuses), and numbers past a float or
    past Python's integer parsing, are invalid JSON with the reason."""
    _flaw(json_flaw(body), 400, "invalid_json", words)


def test_text_a_database_cannot_hold_names_the_field() -> None:
    """An escaped NUL names the field (or key) holding it; a lone surrogate too."""
    _flaw(json_flaw(b'{"text": "a\\u0000"}'), 422, "nul_character", "body field `text`")
    _flaw(json_flaw(b'{"targets": ["x", "y\\u0000"]}'), 422, "nul_character", "`targets[1]`")
    _flaw(
        json_flaw(b'{"overrides": {"youtube": {"t\\u0000": 1}}}'),
        422,
        "nul_character",
        "`overrides.youtube.t\\u0000`",
    )
    _flaw(
        json_flaw(b'{"text": "a\\ud800b"}'),
        400,
        "invalid_encoding",
        "body field `text`",
        "surrogate (\\ud800)",
    )
