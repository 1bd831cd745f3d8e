"""Settings read from the environment, exactly as the contract's section 1 names them."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from adapters.rules.request_headers import Headers, HeadersFileError, read_headers
from adapters.wechat_api.api_keys import ApiKeysError, load_api_keys
from entrypoints.service.setting_values import (
    AES_HINT,
    DEFAULT_METRICS_ADDR,
    LEVELS,
    LOG_FORMATS,
    Malformed,
    address,
    aes_key,
    count,
    folder,
    host_list,
    http_url,
    level,
    log_format,
    moment,
    non_negative,
    on_off,
    positive,
    redis_url,
    route,
    seconds,
)

T = TypeVar("T")
# Values never echoed in an error line: secrets, and URLs that may carry a password.
_UNSHOWN = {
    "KEFU_ENCODING_AES_KEY",
    "KEFU_ENCODING_AES_KEY_PREVIOUS",
    "KEFU_REDIS_URL",
    "KEFU_RULES_URL",
    "KEFU_API_AES_KEY",
}
API_SECURITY = (
    "KEFU_API_AES_KEY",
    "KEFU_API_AES_SN",
    "KEFU_API_RSA_KEY_FILE",
    "KEFU_API_RSA_SN",
    "KEFU_API_CERT_FILE",
    "KEFU_API_CERT_SN",
)
# user:password@ anywhere in a shown value, even one too malformed to parse as a URL.
_USERINFO = re.compile(r"[^\s/@]*@")


class SettingsError(Exception):
    """One or more settings are missing or malformed; `problems` has one line for each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ApiSecuritySettings:
    """WeChat's API security mode (API安全): the six KEFU_API_* settings, all present."""

    aes_key: str = field(repr=False)
    aes_sn: str
    rsa_key_file: Path
    rsa_sn: str
    cert_file: Path
    cert_sn: str


@dataclass(frozen=True)
class Settings:
    # Secrets stay out of repr so a logged Settings never leaks them.
    token: str = field(repr=False)
    appid: str
    encoding_aes_key: str | None = field(default=None, repr=False)
    appsecret: str | None = field(default=None, repr=False)
    rules_url: str | None = None
    rules_file: Path | None = None
    rules_ttl: float = 60.0
    media_root: Path = field(default_factory=Path.cwd)
    wechat_api_base: str = "https://api.weixin.qq.com"
    callback_path: str = "/wechat/callback"
    state_dir: Path = Path("var")
    max_clock_skew: int = 300
    redis_url: str | None = None
    log_level: str = "INFO"
    # During a rotation: the Token and key in use before the last change in the console.
    token_previous: str | None = field(default=None, repr=False)
    encoding_aes_key_previous: str | None = field(default=None, repr=False)
    # KEFU_ROTATION_UNTIL, seconds since the epoch: after it the previous ones are refused.
    rotation_until: float | None = None
    api_security: ApiSecuritySettings | None = None
    stats: bool = True
    media_allow_hosts: frozenset[str] = frozenset()
    senders: int = 4
    reply_deadline: float = 3600.0
    log_format: str = "text"
    metrics_addr: tuple[str, int] | None = DEFAULT_METRICS_ADDR
    # KEFU_RULES_HEADERS_FILE's headers: their values are secrets (an auth token, say).
    rules_headers: Headers = field(default=(), repr=False)

    @property
    def rules_settings(self) -> RulesSettings:
        """The part of the settings that says where the rules come from."""
        return RulesSettings(
            self.rules_url,
            self.rules_file,
            self.rules_ttl,
            self.media_root,
            self.state_dir,
            self.rules_headers,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        values = (
            self.token,
            self.encoding_aes_key,
            self.appsecret,
            self.token_previous,
            self.encoding_aes_key_previous,
            self.api_security.aes_key if self.api_security else None,
            *(value for _, value in self.rules_headers),
        )
        return tuple(s for s in values if s)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read every KEFU_ variable; raise SettingsError naming each bad one."""
        reader = _Reader(env)
        settings = reader.build(cls)
        if reader.problems:
            raise SettingsError(reader.problems)
        return settings


@dataclass(frozen=True)
class SigningSettings:
    """What signs and encrypts pushes, so `kefu simulate` needs no rules or API settings."""

    token: str = field(repr=False)
    appid: str
    encoding_aes_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SigningSettings:
        """Read the three variables as Settings does; raise SettingsError on bad ones."""
        reader = _Reader(env)
        settings = reader.signing()
        if reader.problems:
            raise SettingsError(reader.problems)
        return settings


@dataclass(frozen=True)
class RulesSettings:
    """Only what `kefu rules` needs, so it runs where KEFU_TOKEN and KEFU_APPID are not set."""

    rules_url: str | None = None
    rules_file: Path | None = None
    rules_ttl: float = 60.0
    media_root: Path = field(default_factory=Path.cwd)
    state_dir: Path = Path("var")
    rules_headers: Headers = field(default=(), repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RulesSettings:
        """Read the rules source variables as Settings does; raise SettingsError on bad ones."""
        reader = _Reader(env)
        settings = reader.rules_source()
        reader.check_rules_source(settings)
        if reader.problems:
            raise SettingsError(reader.problems)
        return settings


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def required(self, name: str, meaning: str) -> str:
        value = self.raw(name)
        if value is None:
            self.problems.append(f"{name} is missing: set it to {meaning}")
        return value or ""

    def parsed(self, name: str, parse: Callable[[str], T], default: T, expected: str) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError as bad:
            shown = name if name in _UNSHOWN else f"{name}={_USERINFO.sub('***@', value)!r}"
            found = f", {bad.found}" if isinstance(bad, Malformed) else ""
            self.problems.append(f"{shown} is malformed: expected {expected}{found}")
            return default

    def build(self, cls: type[Settings]) -> Settings:
        signing = self.signing()
        rules = self.rules_source()
        settings = cls(
            token=signing.token,
            appid=signing.appid,
            encoding_aes_key=signing.encoding_aes_key,
            appsecret=self.raw("KEFU_APPSECRET"),
            rules_url=rules.rules_url,
            rules_file=rules.rules_file,
            rules_ttl=rules.rules_ttl,
            media_root=rules.media_root,
            wechat_api_base=self.parsed(
                "KEFU_WECHAT_API_BASE", http_url, "https://api.weixin.qq.com", "an http(s) URL"
            ),
            callback_path=self.parsed("KEFU_CALLBACK_PATH", route, "/wechat/callback", "/a/path"),
            state_dir=rules.state_dir,
            rules_headers=rules.rules_headers,
            max_clock_skew=self.parsed("KEFU_MAX_CLOCK_SKEW", seconds, 300, "whole seconds >= 0"),
            redis_url=self.parsed("KEFU_REDIS_URL", redis_url, None, "redis://host:port/db"),
            log_level=self.parsed("KEFU_LOG_LEVEL", level, "INFO", " | ".join(LEVELS)),
            token_previous=self.raw("KEFU_TOKEN_PREVIOUS"),
            encoding_aes_key_previous=self.parsed(
                "KEFU_ENCODING_AES_KEY_PREVIOUS", aes_key, None, AES_HINT
            ),
            rotation_until=self.parsed(
                "KEFU_ROTATION_UNTIL", moment, None, "an ISO-8601 time, e.g. 2026-12-31T18:00+08:00"
            ),
            api_security=self.api_security(),
            stats=self.parsed("KEFU_STATS", on_off, True, "on or off"),
            media_allow_hosts=self.parsed(
                "KEFU_MEDIA_ALLOW_HOSTS", host_list, frozenset(), "host names, comma-separated"
            ),
            senders=self.parsed("KEFU_SENDERS", count, 4, "a whole number, 0 or more"),
            reply_deadline=self.parsed(
                "KEFU_REPLY_DEADLINE", positive, 3600.0, "seconds, more than 0"
            ),
            log_format=self.parsed("KEFU_LOG_FORMAT", log_format, "text", " | ".join(LOG_FORMATS)),
            metrics_addr=self.parsed(
                "KEFU_METRICS_ADDR", address, DEFAULT_METRICS_ADDR, "HOST:PORT or off"
            ),
        )
        self.check_rules_source(settings)
        self.check_previous(settings)
        return settings

    def api_security(self) -> ApiSecuritySettings | None:
        """The six KEFU_API_* settings: all or none, their keys readable; one line if not."""
        values = {name: self.raw(name) for name in API_SECURITY}
        missing = [name for name, value in values.items() if value is None]
        if len(missing) == len(API_SECURITY):
            return None
        if missing:
            self.problems.append(
                f"API security mode needs all six KEFU_API_* settings or none: "
                f"{', '.join(missing)} missing"
            )
            return None
        aes, aes_sn, rsa_file, rsa_sn, cert_file, cert_sn = (v or "" for v in values.values())
        found = ApiSecuritySettings(aes, aes_sn, Path(rsa_file), rsa_sn, Path(cert_file), cert_sn)
        try:
            load_api_keys(aes, aes_sn, Path(rsa_file), rsa_sn, Path(cert_file), cert_sn)
        except ApiKeysError as unusable:
            self.problems.append(f"API security mode: {unusable}")
            return None
        return found

    def check_previous(self, settings: Settings) -> None:
        if settings.encoding_aes_key_previous and not settings.encoding_aes_key:
            self.problems.append(
                "KEFU_ENCODING_AES_KEY_PREVIOUS is set but KEFU_ENCODING_AES_KEY is not: "
                "set the current key too, or drop the previous one"
            )

    def signing(self) -> SigningSettings:
        """The variables that sign and encrypt pushes."""
        return SigningSettings(
            token=self.required("KEFU_TOKEN", "the Token from the mini program's 消息推送 page"),
            appid=self.required("KEFU_APPID", "the mini program's AppID"),
            encoding_aes_key=self.parsed("KEFU_ENCODING_AES_KEY", aes_key, None, AES_HINT),
        )

    def rules_source(self) -> RulesSettings:
        """The variables that say where the rules come from and what they may name."""
        return RulesSettings(
            rules_url=self.parsed("KEFU_RULES_URL", http_url, None, "an http(s) URL"),
            rules_file=self.parsed("KEFU_RULES_FILE", Path, None, "a file path"),
            rules_ttl=self.parsed("KEFU_RULES_TTL", non_negative, 60.0, "seconds, 0 or more"),
            media_root=self.parsed("KEFU_MEDIA_ROOT", folder, Path.cwd(), "an existing folder"),
            state_dir=self.parsed("KEFU_STATE_DIR", Path, Path("var"), "a folder path"),
            rules_headers=self.rules_headers(),
        )

    def rules_headers(self) -> Headers:
        path = self.raw("KEFU_RULES_HEADERS_FILE")
        if path is None:
            return ()
        try:
            return read_headers(Path(path))
        except HeadersFileError as unusable:
            self.problems.append(f"KEFU_RULES_HEADERS_FILE {unusable}")
            return ()

    def check_rules_source(self, settings: Settings | RulesSettings) -> None:
        if settings.rules_url and settings.rules_file:
            self.problems.append("KEFU_RULES_URL and KEFU_RULES_FILE are both set: keep one")
        elif not (self.raw("KEFU_RULES_URL") or self.raw("KEFU_RULES_FILE")):
            self.problems.append(
                "KEFU_RULES_URL is missing: set it to the CMS rules URL, or set KEFU_RULES_FILE"
            )
