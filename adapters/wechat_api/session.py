"""The requests Session kefu calls WeChat's API with: its environment read once per host."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:
    from requests.sessions import _Settings  # the stubs' name for what requests merges


class EnvironmentOnceSession(requests.Session):
    """A requests Session that reads the environment's settings for a host once, not per call.

    # NOTE: requests reads the environment on every request (HTTPS_PROXY, NO_PROXY and the
    # rest through urllib's getproxies, REQUESTS_CA_BUNDLE): 90 µs a call (timeit), of a reply
    # sender's time 7.6 % in a py-spy profile. A process's environment is set before it starts
    # and every call of the client goes to one host, so what it says for a scheme and host is
    # kept. A call that names its own proxies, stream, verify or cert is merged as ever.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, Any], _Settings] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        scheme, host = urlsplit(url)[:2]
        found = self._environment.get((scheme, host))
        if found is None:
            found = super().merge_environment_settings(url, {}, None, None, None)
            self._environment[(scheme, host)] = found
        mine = found.copy()
        mine["proxies"] = dict(found["proxies"])  # the caller's own copy: requests may add to it
        return mine
