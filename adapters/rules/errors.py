"""Why a rules document could not be had: the error both rule sources raise."""

from __future__ import annotations

from domain.errors import RulesUnavailable


class RulesFetchError(RulesUnavailable):
    """The rules document at `source` (a URL or a path) could not be fetched or read."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"rules from {source} unavailable: {reason}")
        self.source = source
        self.reason = reason
