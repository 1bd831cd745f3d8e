"""requirements.lock pins, with hashes, every dependency pyproject.toml names (`make lock`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {normalised(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in requirements}


def locked() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text("utf-8")
    return {
        normalised(name): block
        for name, block in re.findall(
            r"^([A-Za-z0-9_.-]+)==\S+ \\\n((?:\s+--hash=\S+.*\n)+)", text, re.M
        )
    }


def test_every_declared_dependency_is_pinned_with_hashes():
    pins = locked()
    assert declared() - set(pins) == set()
    assert all("--hash=sha256:" in block for block in pins.values())


def test_every_dependency_has_an_upper_bound_on_its_major_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    assert [r for r in requirements if "<" not in r] == []
