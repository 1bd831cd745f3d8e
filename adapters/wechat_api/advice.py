"""What an operator can do about each way a call to WeChat fails (for logs and /readyz)."""

from __future__ import annotations

from collections.abc import Mapping

_SECRET = "KEFU_APPSECRET is wrong: copy it (or reset it) from 开发 → 开发设置 → AppSecret"

ADVICE: Mapping[str, str] = {
    "40164": "add this host's public IP address to the mini program's IP whitelist "
    "(开发 → 开发设置 → IP白名单)",
    "89503": "an administrator must confirm calls from this IP address, or add it to the "
    "IP whitelist (开发 → 开发设置 → IP白名单)",
    "40013": "KEFU_APPID is not a valid AppID: copy it from 开发 → 开发设置",
    "40125": _SECRET,
    "40001": _SECRET,
    "41004": "set KEFU_APPSECRET",
    "48001": "the mini program has no permission for customer-service messages: check its "
    "account type and the API permissions in the admin console",
    "no_appsecret": "set KEFU_APPSECRET: without it no reply can be sent",
    "45009": "the day's quota of token requests is used up: find what else fetches tokens for "
    "this AppID; the quota renews at midnight Beijing time",
    "-1": "WeChat is busy: this usually passes within minutes",
    "unreachable": "this host cannot reach WeChat's API (KEFU_WECHAT_API_BASE): check DNS, "
    "firewall and proxy",
}


def advice_for(code: str) -> str:
    """What to do about a failure code from failure_code(); a pointer when none is known."""
    return ADVICE.get(code, f"look up WeChat's global error code {code}")
