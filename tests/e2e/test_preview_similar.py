"""The preview explains similar questions: the closest keys under each reply, and for each
frequent unmatched text the nearest standard question with the JSON to paste."""

from __future__ import annotations

import json
from pathlib import Path

import falcon.testing
import pytest

from adapters.stats.disk import DiskHitStats
from domain.stats import Hit
from entrypoints.preview.main import build_preview
from entrypoints.preview.settings import PreviewSettings
from tests.e2e.conftest import APPID
from tests.e2e.test_preview_app import SAME_ORIGIN, settings_for

PHONE = "在 App「我的 → 设置」里更换预留手机号"
DOCUMENT = {
    "怎么更换手机号": {
        "similar": ["如何更改预留手机号码", "我想换手机号"],
        "reply": {"type": "text", "text": PHONE},
    },
    "怎么解绑银行卡": {
        "similar": ["银行卡不用了怎么解绑", "如何取消绑定的银行卡"],
        "reply": {"type": "text", "text": "在 App「我的 → 银行卡」里解绑"},
    },
    "default": {"type": "text", "text": "您可以描述得更具体些"},
}


@pytest.fixture
def client(tmp_path: Path) -> falcon.testing.TestClient:
    settings = settings_for(tmp_path)
    assert settings.rules_file is not None
    settings.rules_file.write_text(json.dumps(DOCUMENT, ensure_ascii=False), "utf-8")
    users = DiskHitStats(tmp_path / "state" / "stats", APPID)
    for _ in range(3):
        users.record(Hit("default", unmatched="手机号换了，怎么改"))
    users.close()
    return falcon.testing.TestClient(
        build_preview(PreviewSettings(settings, service_stats=True)),
        headers=SAME_ORIGIN,
    )


def test_a_paraphrase_is_answered_and_shows_its_closest_keys_with_scores(client):
    turn = client.simulate_post("/api/chat", json={"text": "手机号换了，怎么改"}).json
    assert (turn["rule"], turn["how"]) == ("怎么更换手机号", "similar")
    assert turn["replies"] == [{"kind": "text", "text": PHONE}]
    similar = turn["similar"]
    assert similar["answer"] == "怎么更换手机号"
    assert [c["key"] for c in similar["candidates"]] == ["怎么更换手机号", "怎么解绑银行卡"]
    best, second = similar["candidates"]
    assert 0 <= second["score"] < best["score"] <= 100
    assert similar["confidence"] >= similar["threshold"]


def test_an_unrelated_text_gets_the_default_and_shows_why(client):
    turn = client.simulate_post("/api/chat", json={"text": "额度是多少"}).json
    assert (turn["rule"], turn["how"]) == ("default", "default")
    assert turn["similar"]["answer"] is None
    assert turn["similar"]["confidence"] < turn["similar"]["threshold"]


def test_an_exact_keyword_is_not_explained_by_similarity(client):
    turn = client.simulate_post("/api/chat", json={"text": "怎么更换手机号"}).json
    assert (turn["how"], turn["similar"]) == ("keyword", None)


def test_the_stats_panel_gives_the_nearest_standard_question_and_the_json_to_paste(client):
    (today,) = client.simulate_get("/api/stats", params={"days": "1"}).json["days"][:1]
    nearest = today["nearest"]["手机号换了，怎么改"]
    assert nearest["key"] == "怎么更换手机号"
    assert json.loads(nearest["paste"]) == {
        "similar": ["如何更改预留手机号码", "我想换手机号", "手机号换了，怎么改"]
    }
