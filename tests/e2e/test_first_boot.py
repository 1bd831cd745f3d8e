"""A first start whose CMS hangs, with no saved copy of the rules, under real gunicorn: kefu
starts as fast as with a local rules file, acknowledges pushes at once and answers each of
them once the rules arrive."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from adapters.rules.cms import FETCH_SECONDS
from entrypoints.cli.gunicorn_process import KefuUnderGunicorn
from tests.canned_http import canned
from tests.e2e.queue_rig import RULES, QueueRig, queue_rig
from tests.polling import wait_until


@contextmanager
def hanging_cms() -> Iterator[tuple[str, threading.Event]]:
    """A CMS that holds every request until the event is set, then serves the rig's rules."""
    release = threading.Event()
    body = json.dumps(RULES, ensure_ascii=False).encode()
    with canned(body, hold=release) as url:
        yield f"{url}/cms/rules", release


def started(rig: QueueRig, name: str, **settings: str) -> tuple[KefuUnderGunicorn, float]:
    """kefu under gunicorn, and how long it took to answer /healthz."""
    began = time.monotonic()
    kefu = rig.kefu(name, 2, **settings)
    return kefu, time.monotonic() - began


def test_a_hanging_cms_at_first_start_holds_neither_the_start_nor_the_acks(tmp_path):
    with queue_rig(tmp_path) as rig, hanging_cms() as (cms, release):
        with_file, file_took = started(rig, "with-file", KEFU_STATE_DIR=str(tmp_path / "s1"))
        with_file.stop()
        kefu, took = started(rig, "kefu", KEFU_RULES_FILE="", KEFU_RULES_URL=cms)
        # As fast as with a local file (the CMS is given 15 s before it counts as down).
        assert took < file_took + 1.0, (took, file_took)
        assert took < FETCH_SECONDS
        acks = []
        for user in ("o_first", "o_second"):
            began = time.monotonic()
            assert rig.push(kefu.url, "text", user).text == "success"
            acks.append(time.monotonic() - began)
        assert max(acks) < 1.0, acks
        report = requests.get(f"{kefu.url}/readyz", timeout=5)
        assert report.status_code == 503
        assert not report.json()["checks"]["rules"]["ok"]
        time.sleep(2)  # the jobs wait, trying again
        assert rig.sent_to("o_first") == [] and rig.sent_to("o_second") == []
        release.set()
        assert wait_until(lambda: rig.sent_to("o_first") and rig.sent_to("o_second"), timeout=30)
        assert wait_until(lambda: requests.get(f"{kefu.url}/readyz", timeout=5).ok, timeout=15)
        time.sleep(1)  # no second copy follows
        for user in ("o_first", "o_second"):
            assert [body["text"] for body in rig.sent_to(user)] == [{"content": "文字回复"}]
        assert "the reply waits for them" in rig.log()
