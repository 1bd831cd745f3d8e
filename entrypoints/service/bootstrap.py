"""Builds the running service from the environment: settings, container, resources, app."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import falcon

from entrypoints.service.app import create_app
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings, SettingsError

log = logging.getLogger("kefu")


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    """Settings, or one line per problem on stderr and exit status 2."""
    try:
        return Settings.from_env(env)
    except SettingsError as bad:
        for line in bad.problems:
            print(f"kefu: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)


def start(container: Container) -> None:
    """Start what lives as long as the process: logging, the state store, the rules."""
    # Logging first: the rules log their problems as they load, through its filters.
    container.logging.init()
    container.init_resources()
    if not container.settings().appsecret:
        log.warning("KEFU_APPSECRET is not set: pushes are answered but no reply can be sent")


def app_for(container: Container) -> falcon.App[falcon.Request, falcon.Response]:
    """The Falcon app serving what the container built (after any test overrides)."""
    return create_app(
        container.settings().callback_path,
        container.push_gateway(),
        container.answer(),
        container.readiness(),
    )


@dataclass(frozen=True)
class Service:
    """The running service of one process: its container and the app gunicorn serves."""

    container: Container
    app: falcon.App[falcon.Request, falcon.Response]

    def stop(self, grace: float | None = None) -> None:
        """Let running reply sends finish (up to `grace` seconds), stop the rules watcher and
        close the state store (gunicorn's worker_exit)."""
        if grace is not None:
            self.container.senders().stop(grace)
        self.container.shutdown_resources()
        log.info("stopped: rules watcher and state store closed")


def build_service(env: Mapping[str, str] = os.environ) -> Service:
    container = build_container(load_settings(env))
    start(container)
    return Service(container, app_for(container))


def build_app(env: Mapping[str, str] = os.environ) -> falcon.App[falcon.Request, falcon.Response]:
    return build_service(env).app
