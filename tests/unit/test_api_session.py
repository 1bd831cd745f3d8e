"""The API client's Session reads the environment's proxy settings once per host."""

from __future__ import annotations

import pytest
import requests.sessions

from adapters.wechat_api.client import RequestsWeChatApi
from adapters.wechat_api.session import EnvironmentOnceSession

API = "https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token=T"


def test_the_environment_is_read_once_per_host_and_its_proxy_used(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "cms.internal")
    reads: list[str] = []
    environ_proxies = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        reads.append(url)
        return environ_proxies(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    session = EnvironmentOnceSession()
    for token in ("T1", "T2", "T3"):
        settings = session.merge_environment_settings(API + token, {}, None, None, None)
        assert settings["proxies"]["https"] == "http://proxy.internal:3128"
        settings["proxies"]["https"] = "changed by a caller"  # its own copy
    direct = session.merge_environment_settings("https://cms.internal/rules", {}, None, None, None)
    assert "https" not in direct["proxies"]  # NO_PROXY: another host, read for itself
    assert len(reads) == 2


def test_a_call_naming_its_own_settings_is_merged_as_requests_does(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    session = EnvironmentOnceSession()
    session.merge_environment_settings(API, {}, None, None, None)
    own = session.merge_environment_settings(API, {"https": "http://mine:1"}, None, False, None)
    assert (own["proxies"]["https"], own["verify"]) == ("http://mine:1", False)


@pytest.mark.parametrize("given", [None, "session"])
def test_the_client_uses_it_unless_given_a_session(given):
    session = requests.Session() if given else None
    client = RequestsWeChatApi("wxA", "secret", session=session)
    assert isinstance(client._session, EnvironmentOnceSession) == (given is None)
