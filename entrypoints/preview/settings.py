"""What `kefu preview` runs with: the service's settings, or for a draft none of them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from entrypoints.service.settings import Settings

DRAFT_TTL = 1.0
"""Seconds between looks at a --rules draft file: a saved edit shows at once."""
# NOTE: the preview verifies no push and plays WeChat itself, so a draft is decided without the
# service's Token and AppID; these stand in for them and are never used for anything else.
_OFFLINE = {"KEFU_TOKEN": "offline-preview", "KEFU_APPID": "offline-preview"}


@dataclass(frozen=True)
class PreviewSettings:
    settings: Settings
    service_stats: bool
    """The settings say where the running service counts what users ask."""


def preview_settings(
    env: Mapping[str, str] = os.environ, draft: Path | None = None
) -> PreviewSettings:
    """The service's settings; with a draft, whichever of them are set (none are needed) and the
    draft as the rules. Raises SettingsError on a malformed one."""
    if draft is None:
        return PreviewSettings(Settings.from_env(env), service_stats=True)
    given = {name: value for name, value in env.items() if value.strip()}
    drafted = {**_OFFLINE, **given, "KEFU_RULES_FILE": str(draft), "KEFU_RULES_TTL": str(DRAFT_TTL)}
    drafted.pop("KEFU_RULES_URL", None)
    # Where the running service counts what users ask; without it there is nothing to show.
    stored = "KEFU_STATE_DIR" in given or "KEFU_REDIS_URL" in given
    service_stats = "KEFU_APPID" in given and stored
    return PreviewSettings(Settings.from_env(drafted), service_stats)
