"""config/compose.yaml fits the image and nginx.conf it names; tests/e2e/test_image.py starts it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((CONFIG / "compose.yaml").read_text("utf-8"))[
        "services"
    ]
    return services


def image_env() -> dict[str, str]:
    """The runtime stage's ENV (the last one)."""
    text = (ROOT / "Containerfile").read_text("utf-8").rsplit("\nENV ", 1)[1]
    block = text.split("\nVOLUME", 1)[0]
    return dict(re.findall(r"(\w+)=(\S+)", block))


def test_kefu_and_its_worker_run_the_image_built_from_the_containerfile_read_only():
    services = compose()
    for name, command in (("kefu", ["serve"]), ("worker", ["worker"])):
        service = services[name]
        assert (CONFIG / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["command"] == command
        assert service["read_only"] is True
        assert service["environment"]["KEFU_REDIS_URL"] == "redis://redis:6379/0"
        assert any(v.endswith(":/var/lib/kefu") for v in service["volumes"])
    assert services["kefu"]["environment"]["KEFU_SENDERS"] == "0"
    assert image_env()["KEFU_STATE_DIR"] == "/var/lib/kefu"


def test_nginx_reaches_kefu_where_nginx_conf_sends_it():
    nginx = compose()["nginx"]
    assert nginx["network_mode"] == "service:kefu"
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    upstream = re.search(
        r"upstream kefu \{\s*server ([\d.]+):(\d+);", (CONFIG / "nginx.conf").read_text()
    )
    assert upstream is not None
    assert upstream.group(2) == image_env()["PORT"]
