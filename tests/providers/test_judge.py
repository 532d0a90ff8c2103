"""The heuristic judge: deterministic scores that follow the evidence."""

from __future__ import annotations

from crosspost.providers.judge import HeuristicJudge, JudgeInput

DEV_TALK = (
    "okay so the postgres migration failed because the worker held a lock, let me "
    "refactor the queue and rerun the test suite before I merge the pull request"
)


def _item(**changes: object) -> JudgeInput:
    values: dict[str, object] = {"title": "Fixing the migration lock", "transcript": DEV_TALK,
                                 "duration_seconds": 30.0, "view_count": 500,
                                 "match_confidence": 0.8,
                                 "github_titles": ("Release the queue lock",)}  # fmt: skip
    values.update(changes)
    return JudgeInput(**values)  # type: ignore[arg-type]


def test_the_same_item_gets_the_same_verdict() -> None:
    """No randomness, no clock: two runs agree."""
    judge = HeuristicJudge()
    assert judge.judge(_item()) == judge.judge(_item())


def test_developer_talk_scores_as_development_with_its_terms_as_tags() -> None:
    """A clip of a developer at work is `development`, tagged with the terms it used most."""
    verdict = HeuristicJudge().judge(_item())
    assert verdict.category == "development"
    assert verdict.dev_signal == 1.0
    assert "queue" in verdict.tags and "lock" not in verdict.tags
    assert 0 < verdict.score <= 100


def test_each_kind_of_evidence_moves_the_score_its_way() -> None:
    """Silence, no GitHub match, fewer views and an odd length each lower the score."""
    judge = HeuristicJudge()
    base = judge.judge(_item()).score
    assert judge.judge(_item(transcript="", title="clip")).score < base
    assert judge.judge(_item(match_confidence=0.0)).score < base
    assert judge.judge(_item(view_count=3)).score < base
    assert judge.judge(_item(duration_seconds=4.0)).score < base
    assert judge.judge(_item(match_confidence=0.0)).confidence < judge.judge(_item()).confidence


def test_categories_beyond_development() -> None:
    """A how-to is a tutorial, a first look a review, a boss fight gaming, chatter other."""
    judge = HeuristicJudge()
    assert judge.judge(_item(title="How to set up webhooks")).category == "tutorial"
    assert judge.judge(_item(title="First look at the new editor")).category == "review"
    gaming = _item(title="boss fight", transcript="this boss level is a speedrun quest",
                   github_titles=(), match_confidence=0.0)  # fmt: skip
    assert judge.judge(gaming).category == "gaming"
    chatter = _item(title="hello", transcript="good morning chat", github_titles=())
    assert judge.judge(chatter).category == "other"
