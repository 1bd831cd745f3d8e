"""Builds the running service from the environment: settings, logging, container, app."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

import falcon

from adapters.logs.redaction import install_redaction
from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.settings import Settings, SettingsError

log = logging.getLogger("kefu")


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    """Settings, or one line per problem on stderr and exit status 2."""
    try:
        return Settings.from_env(env)
    except SettingsError as bad:
        for line in bad.problems:
            print(f"kefu: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    logging.getLogger().setLevel(settings.log_level)
    install_redaction(*settings.secrets)


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)


def start(container: Container) -> None:
    """Work done once per process before the first push: load the rules, warn on gaps."""
    settings = container.settings()
    if not settings.appsecret:
        log.warning("KEFU_APPSECRET is not set: pushes are answered but no reply can be sent")
    container.rules().load()


def build_app(env: Mapping[str, str] = os.environ) -> falcon.App[falcon.Request, falcon.Response]:
    settings = load_settings(env)
    configure_logging(settings)
    container = build_container(settings)
    start(container)
    return create_app(container)
