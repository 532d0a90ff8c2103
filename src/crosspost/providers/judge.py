"""The judge (seed 002's "AI judge"): how good a clip is as content, and what it is about.

`Judge` is the port; `HeuristicJudge` the default, which needs no network and answers the
same for the same item: coherence from how densely the clip is spoken, developer signal from
the developer vocabulary in its title, transcript and GitHub context, correctness from how
well GitHub corroborates it, with views and duration, into a 0-100 `content_score`, a
category and tags. `judge_llm.LLMJudge` asks a chat model for the parts instead; both turn
them into the score with `content_score`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Category = Literal["development", "gaming", "tutorial", "review", "other"]

# Words that say a developer is at work (seed 002: "Vue, Laravel, Inertia, React, Cloudflare
# Workers, Python"), matched whole and lower-cased.
_DEV_WORDS = (
    "api async await backend benchmark branch bug build cache ci cli cloudflare code commit "
    "compile compiler component container css database debug debugger deploy deployment "
    "docker endpoint error exception fastapi frontend function git github html http "
    "inertia javascript json kubernetes latency laravel library lint linter merge "
    "migration npm oauth package php postgres postgresql pull python query queue react "
    "redis refactor regression release repo repository rust schema server sql sqlite "
    "stack test tests thread token typescript types vue webhook worker workers"
)
DEV_TERMS = frozenset(_DEV_WORDS.split())
_GAMING_WORDS = "boss game gameplay level loot multiplayer quest raid speedrun"
_GAMING = frozenset(_GAMING_WORDS.split())
_TUTORIAL = re.compile(r"\b(how to|tutorial|walkthrough|step by step|guide|explained)\b")
_REVIEW = re.compile(r"\b(review|reviewing|code review|first look|impressions)\b")
_WORD = re.compile(r"[a-z][a-z0-9+#.-]*[a-z0-9+#]|[a-z]")
MAX_TAGS = 5


@dataclass(frozen=True)
class JudgeInput:
    """What the judge sees of an item."""

    title: str
    transcript: str
    duration_seconds: float
    view_count: int
    match_confidence: float
    github_titles: Sequence[str] = ()


@dataclass(frozen=True)
class Verdict:
    """The judge's scores (each 0 to 1), the item's 0-100 score, category and tags."""

    judge: Literal["heuristic", "llm"]
    coherence: float
    correctness: float
    dev_signal: float
    confidence: float
    score: float
    category: Category
    tags: list[str]
    reasons: list[str] = field(default_factory=list)
    tokens: int = 0  # LLM tokens the verdict cost (prompt and completion), for metering


class Judge(Protocol):
    """Scores items."""

    def judge(self, item: JudgeInput) -> Verdict:
        """The verdict on one item."""
        ...


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class HeuristicJudge:
    """The deterministic judge: no network, the same verdict for the same item."""

    def judge(self, item: JudgeInput) -> Verdict:
        """Score one item from its transcript, title, GitHub context, views and duration."""
        spoken = _words(item.transcript)
        seconds = max(item.duration_seconds, 1.0)
        density = len(spoken) / seconds
        coherence = _speech_fit(density) * _clamp(len(spoken) / 10)
        every = _words(" ".join([item.title, item.transcript, *item.github_titles]))
        found = Counter(w for w in every if w in DEV_TERMS)
        dev_signal = _clamp(sum(found.values()) / 8)
        correctness = 0.5 + 0.5 * _clamp(item.match_confidence)
        score = content_score(item, coherence, dev_signal, correctness)
        confidence = 0.5 * _clamp(len(spoken) / 50) + 0.5 * _clamp(item.match_confidence)
        tags = [w for w, _ in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))][:MAX_TAGS]
        reasons = [
            f"{len(spoken)} words in {item.duration_seconds:.0f} s ({density:.1f}/s)",
            f"{sum(found.values())} developer terms" + (f" ({', '.join(tags)})" if tags else ""),
            f"GitHub match confidence {item.match_confidence:.2f}",
            f"{item.view_count} views",
        ]
        return Verdict(
            judge="heuristic",
            coherence=round(coherence, 3),
            correctness=round(correctness, 3),
            dev_signal=round(dev_signal, 3),
            confidence=round(confidence, 3),
            score=score,
            category=_category(item, every, dev_signal),
            tags=tags,
            reasons=reasons,
        )


def content_score(
    item: JudgeInput, coherence: float, dev_signal: float, correctness: float
) -> float:
    """The 0-100 score from a judge's parts (each 0 to 1) and the item's views and duration,
    weighted alike whichever judge gave the parts; rounded to 0.1."""
    popularity = _clamp(math.log10(item.view_count + 1) / 4)  # 10,000 views: full marks
    fit = _duration_fit(item.duration_seconds)
    score = 100 * (0.25 * coherence + 0.3 * dev_signal + 0.15 * correctness
                   + 0.2 * popularity + 0.1 * fit)  # fmt: skip
    return round(score, 1)


def _speech_fit(words_per_second: float) -> float:
    """1 for natural speech (2 to 3.5 words a second), less for sparse talk, and less again
    for more words than anyone says: a transcript that cannot be this clip's."""
    if words_per_second <= 3.5:
        return _clamp(words_per_second / 2.0)
    return _clamp(1.0 - (words_per_second - 3.5) / 3.5)


def _duration_fit(seconds: float) -> float:
    """1 for 15-60 s, the length a recap embeds best; less for shorter and longer."""
    if seconds < 15:
        return _clamp(seconds / 15)
    if seconds <= 60:
        return 1.0
    return _clamp(1.0 - (seconds - 60) / 240) * 0.5 + 0.5


def _category(item: JudgeInput, words: list[str], dev_signal: float) -> Category:
    text = f"{item.title} {item.transcript}".lower()
    if _TUTORIAL.search(text):
        return "tutorial"
    if _REVIEW.search(text):
        return "review"
    if dev_signal >= 0.25:
        return "development"
    if sum(w in _GAMING for w in words) >= 2:
        return "gaming"
    return "other"
