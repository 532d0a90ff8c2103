"""The languages Whisper-family services know, as the codes requests take and the names
OpenAI's ``verbose_json`` answers with ("english"), mapped to BCP 47 tags for a Transcript."""

from __future__ import annotations

# Whisper's tokenizer list, in its own order; "jw" is its (non-ISO) code for Javanese.
_TABLE = """
en english, zh chinese, de german, es spanish, ru russian, ko korean, fr french,
ja japanese, pt portuguese, tr turkish, pl polish, ca catalan, nl dutch, ar arabic,
sv swedish, it italian, id indonesian, hi hindi, fi finnish, vi vietnamese, he hebrew,
uk ukrainian, el greek, ms malay, cs czech, ro romanian, da danish, hu hungarian, ta tamil,
no norwegian, th thai, ur urdu, hr croatian, bg bulgarian, lt lithuanian, la latin, mi maori,
ml malayalam, cy welsh, sk slovak, te telugu, fa persian, lv latvian, bn bengali, sr serbian,
az azerbaijani, sl slovenian, kn kannada, et estonian, mk macedonian, br breton, eu basque,
is icelandic, hy armenian, ne nepali, mn mongolian, bs bosnian, kk kazakh, sq albanian,
sw swahili, gl galician, mr marathi, pa punjabi, si sinhala, km khmer, sn shona, yo yoruba,
so somali, af afrikaans, oc occitan, ka georgian, be belarusian, tg tajik, sd sindhi,
gu gujarati, am amharic, yi yiddish, lo lao, uz uzbek, fo faroese, ht haitian creole,
ps pashto, tk turkmen, nn nynorsk, mt maltese, sa sanskrit, lb luxembourgish, my myanmar,
bo tibetan, tl tagalog, mg malagasy, as assamese, tt tatar, haw hawaiian, ln lingala,
ha hausa, ba bashkir, jw javanese, su sundanese, yue cantonese
"""
NAMES: dict[str, str] = {
    code: name for code, _, name in (entry.strip().partition(" ") for entry in _TABLE.split(","))
}
_CODES = {name: code for code, name in NAMES.items()}
_BCP47 = {"jw": "jv"}  # Whisper's code for Javanese is not ISO 639-1


def language_tag(reported: str | None) -> str | None:
    """A BCP 47 tag for a language a service reported by name ("english") or code ("en")."""
    if not reported:
        return None
    value = reported.strip().lower()
    code = _CODES.get(value) or (value if value in NAMES else None)
    if code is None:
        return reported.strip() or None  # an unknown name is still better said than dropped
    return _BCP47.get(code, code)


__all__ = ["NAMES", "language_tag"]
