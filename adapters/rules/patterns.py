"""`re:` keys compiled with RE2, whose matching time is linear in the text, all in one RE2 set."""

from __future__ import annotations

from collections.abc import Sequence

import re2

from domain.errors import PatternRefused

# RE2's memory, bounded twice. One pattern is compiled only to be checked and measured, then
# dropped: 1 MiB holds a program far over the whole budget, so the budget is what refuses it.
PATTERN_MAX_MEM = 1 << 20
# The set holds the program (at most the budget's 2,000 units plus one per key) and the cache of
# its DFA states, each at most ~10 KB: 8 MiB (RE2's own default) keeps hundreds of them.
SET_MAX_MEM = 8 << 20


class Re2Patterns:
    """The pattern engine the service uses: sizes are RE2 program sizes.

    set_max_mem is for measuring sets beyond the budget; the service keeps SET_MAX_MEM.
    """

    def __init__(self, set_max_mem: int = SET_MAX_MEM) -> None:
        self._set_max_mem = set_max_mem

    def size(self, source: str) -> int:
        """source's RE2 program size. Raises PatternRefused.

        RE2, not Python's re: no pattern a CMS editor writes can hold a worker (`^(a+)+$` would
        take Python's re minutes on 40 characters). RE2 refuses backreferences and look-around.
        """
        try:
            size: int = re2.compile(source, re2_options(PATTERN_MAX_MEM)).programsize
        except re2.error as refused:
            raise PatternRefused(_reason(refused)) from None
        return size

    def combine(self, sources: Sequence[str]) -> Re2PatternSet:
        """Raises PatternRefused when RE2 cannot build the set within its max_mem."""
        matcher = re2.Set.SearchSet(re2_options(self._set_max_mem))
        try:
            for source in sources:
                matcher.Add(source)
            matcher.Compile()
        except re2.error as refused:
            raise PatternRefused(_reason(refused)) from None
        return Re2PatternSet(matcher)


class Re2PatternSet:
    """One RE2 set: a single pass over the text finds every pattern in it."""

    def __init__(self, matcher: re2.Set) -> None:
        self._matcher = matcher

    def first(self, text: str) -> int | None:
        # NOTE: RE2 reports a set's DFA running out of memory as no match, and this binding
        # cannot tell the two apart; the budget keeps each DFA state far smaller than the cache.
        found: list[int] | None = self._matcher.Match(text)
        return min(found) if found else None


def re2_options(max_mem: int) -> re2.Options:
    """Case-insensitive, silent, within max_mem: how kefu compiles every pattern."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # refusals are reported by key, not printed on stderr
    options.max_mem = max_mem
    return options


def _reason(error: Exception) -> str:
    reason = error.args[0] if error.args else error
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
