"""Every store under KEFU_STATE_DIR: private after a whole conversation, and pickle-proof."""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import falcon.testing
import pytest
import responses

from adapters.stats.background import BackgroundHitStats
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.cli.stats import show_stats
from entrypoints.preview.main import build_preview
from entrypoints.preview.settings import PreviewSettings
from entrypoints.service.bootstrap import app_for
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings
from tests.e2e.conftest import (
    AES_KEY,
    APPID,
    CMS_URL,
    TOKEN,
    Service,
    mock_wechat,
    start_with_rules,
)
from tests.planted import plant_in_every_row

# Rule "2" is an image at a URL, "3" a file under the media root: both leave a media id cached.
# "你好" and "价格" match nothing: the default answers and the statistics keep the text.
TYPED = ["1", "2", "3", "你好", "价格"]
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask most services run with: files come out 0644 unless kefu says otherwise."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@dataclass
class Serving:
    service: Service
    container: Container


@contextmanager
def serving(settings: Settings, rsps: responses.RequestsMock) -> Iterator[Serving]:
    """The service as a gunicorn worker runs it: replies queued, sent by sender threads."""
    container = Container(settings=replace(settings, senders=2, stats=True))
    start_with_rules(container)
    try:
        client = falcon.testing.TestClient(app_for(container))
        service = Service(client, rsps, PushSimulator(TOKEN, APPID, AES_KEY), settings)
        yield Serving(service, container)
    finally:
        container.shutdown_resources()


def converse(serving: Serving, texts: list[str]) -> None:
    """Push every text from one user; wait until each reply is sent and each hit counted."""
    service = serving.service
    sent_before = len(service.sent())
    for text in texts:
        push = service.simulator.build(
            service.simulator.text(text, OPENID), PushFormat.JSON, Mode.SAFE
        )
        answer = service.send(push)
        assert (answer.status_code, answer.text) == (200, "success")
    deadline = time.monotonic() + 20
    while len(service.sent()) < sent_before + len(texts):
        assert time.monotonic() < deadline, "the queued replies were not sent in time"
        time.sleep(0.05)
    counting = serving.container.hit_stats()
    assert isinstance(counting, BackgroundHitStats)
    counting.flush()


def loose_modes(root: Path) -> dict[str, str]:
    """Every folder and file under root (root too) whose mode is not 0700 or 0600."""
    loose = {}
    for path in [root, *root.rglob("*")]:
        wanted = 0o700 if path.is_dir() else 0o600
        if stat.S_IMODE(path.lstat().st_mode) != wanted:
            loose[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return loose


def test_after_a_conversation_touching_every_store_nothing_under_the_state_dir_is_loose(
    settings: Settings, loose_umask: None
):
    state = settings.state_dir
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        with serving(settings, rsps) as running:
            converse(running, TYPED)
            assert len(running.service.calls("/cgi-bin/media/upload")) == 2
            names = {path.name for path in state.rglob("*")}
            # Every store was written: state, statistics, reply queue, the saved rules copy,
            # with SQLite's journals beside each database while it is open.
            for database in ("cache.db", "replies.db"):
                assert {database, f"{database}-wal", f"{database}-shm"} <= names
            assert {"stats", "rules", "rules.json", "rules.meta.json", "writes.lock"} <= names
            assert loose_modes(state) == {}
    assert loose_modes(state) == {}
    # The statistics keep users' words, never who said them.
    kept = b"".join(path.read_bytes() for path in (state / "stats").iterdir())
    assert "价格".encode() in kept and OPENID.encode() not in kept


def test_pickles_planted_in_every_row_of_every_store_never_run(settings: Settings, tmp_path):
    marker = tmp_path / "pickle-ran"
    state = settings.state_dir
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        with serving(settings, rsps) as running:
            converse(running, TYPED)
        databases = sorted(state.rglob("*.db"))
        assert {path.name for path in databases} == {"cache.db", "replies.db"}
        assert len(databases) == 3  # the state, the statistics, the reply queue
        assert sum(plant_in_every_row(path, marker) for path in databases) > 10
        with serving(settings, rsps) as running:
            # Pushes answered, replies queued and sent; the texts counted afresh, a new one too
            # (the planted day reads as a new day, the askers of its texts with it).
            converse(running, [*TYPED, "运费"])
        out, err = io.StringIO(), io.StringIO()
        assert show_stats(1, stats_env(settings), out, err) == 0, err.getvalue()
        preview = falcon.testing.TestClient(
            build_preview(PreviewSettings(settings, service_stats=True)),
            headers={"Host": "127.0.0.1:8700"},
        )
        panel = preview.simulate_get("/api/stats", params={"days": "1"})
    assert not marker.exists()
    assert "运费" in out.getvalue() and err.getvalue() == ""
    assert panel.status_code == 200 and "error" not in panel.json
    (today,) = panel.json["days"]
    assert today["unmatched"] == [["价格", 1], ["你好", 1], ["运费", 1]]  # over the planted day


def stats_env(settings: Settings) -> dict[str, str]:
    return {
        "KEFU_TOKEN": TOKEN,
        "KEFU_APPID": APPID,
        "KEFU_RULES_URL": CMS_URL,
        "KEFU_STATE_DIR": str(settings.state_dir),
    }
