"""The embedded store keeps its values from other local users and never runs a planted pickle."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import diskcache

from adapters.rules.saved import SavedDocument, Validators
from adapters.state.disk import DiskStateStore
from tests.planted import Planted


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_folder_and_its_database_are_readable_by_this_user_only(tmp_path: Path):
    folder = tmp_path / "state"
    store = DiskStateStore(folder)
    store.set("token:wx1", '{"access_token": "secret"}', 60)
    assert mode(folder) == 0o700
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert "cache.db" in files
    assert {name: mode(folder / name) for name in files} == dict.fromkeys(files, 0o600)
    store.close()


def test_an_existing_open_state_folder_is_tightened(tmp_path: Path):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    (folder / "cache.db").touch()
    os.chmod(folder / "cache.db", 0o644)
    store = DiskStateStore(folder)
    store.set("k", "v", 60)
    assert (mode(folder), mode(folder / "cache.db")) == (0o700, 0o600)
    store.close()


def test_the_saved_rules_copy_lives_in_a_private_folder(tmp_path: Path):
    saved = SavedDocument(tmp_path / "state", "https://cms.example/rules")
    saved.write(b"{}", Validators())
    assert (mode(tmp_path / "state"), mode(saved.path)) == (0o700, 0o600)


def test_a_planted_pickle_reads_as_missing_and_never_runs(tmp_path: Path):
    marker = tmp_path / "ran"
    with diskcache.Cache(str(tmp_path / "state")) as planter:  # diskcache's own pickling Disk
        planter.set("token:wx1", Planted(marker))
    store = DiskStateStore(tmp_path / "state")
    assert store.get("token:wx1") is None
    assert store.add("token:wx1", "fresh", 60) is False  # the row is there, just never loaded
    store.set("token:wx1", "fresh", 60)
    assert store.get("token:wx1") == "fresh"
    store.close()
    assert not marker.exists()
    # The plant is real: diskcache's default Disk runs it.
    with diskcache.Cache(str(tmp_path / "other")) as plain:
        plain.set("k", Planted(marker))
        plain.get("k")
    assert marker.exists()


def test_a_planted_row_naming_a_file_outside_the_folder_is_not_read(tmp_path: Path):
    store = DiskStateStore(tmp_path / "state")
    store.set("media:x", "1700000000.0 MEDIA", 60)
    store.close()
    (tmp_path / "outside.txt").write_text("not for kefu", encoding="utf-8")
    with sqlite3.connect(tmp_path / "state" / "cache.db") as db:
        db.execute(
            "UPDATE Cache SET mode = 3, filename = '../outside.txt', value = NULL WHERE key = ?",
            ("media:x",),
        )
    store = DiskStateStore(tmp_path / "state")
    assert store.get("media:x") is None
    store.set("media:x", "1700000001.0 MEDIA2", 60)  # diskcache removes a replaced row's file
    store.close()
    assert (tmp_path / "outside.txt").read_text(encoding="utf-8") == "not for kefu"
