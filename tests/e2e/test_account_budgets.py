"""An account's call budgets over real HTTP: what publishing spent, what is left, and when
room comes back, per account or shared by the platform app."""

from __future__ import annotations

from datetime import datetime

from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def test_an_account_shows_what_publishing_spent_of_each_budget(stack: Stack) -> None:
    x = next(a for a in stack.http.get("/v1/accounts").json() if a["platform"] == "x")
    before = {b["name"]: b for b in stack.http.get(f"/v1/accounts/{x['id']}").json()["budgets"]}
    assert set(before) == {
        "tweets", "tweets_24h", "media_upload", "media_status", "timeline", "tweets_delete",
        "tweet_lookup",
    }  # fmt: skip
    assert before["tweets"]["used"] == 0 and before["tweets"]["resets_at"] is None
    made = stack.http.post("/v1/posts", json={"text": "spend one", "targets": ["x"]})
    assert made.status_code == 201, made.text
    done = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL)
    assert done["status"] == "published", done
    after = {b["name"]: b for b in stack.http.get(f"/v1/accounts/{x['id']}").json()["budgets"]}
    tweets = after["tweets"]
    assert (tweets["scope"], tweets["limit"], tweets["used"], tweets["remaining"]) == (
        "account", 200, 1, 199
    )  # fmt: skip
    assert tweets["window_seconds"] == 900.0
    resets = datetime.fromisoformat(tweets["resets_at"])
    assert 0 < (resets - datetime.fromisoformat(done["created_at"])).total_seconds() <= 905
    assert after["tweets_24h"]["used"] == 1 and after["media_upload"]["used"] == 0
    # Lists stay light: no budgets there.
    assert all(a["budgets"] is None for a in stack.http.get("/v1/accounts").json())
    youtube = next(a for a in stack.http.get("/v1/accounts").json() if a["platform"] == "youtube")
    shared = stack.http.get(f"/v1/accounts/{youtube['id']}").json()["budgets"]
    assert {b["scope"] for b in shared} == {"app"} and shared
