"""Words for a person, kept apart from the values they name, so that each front end says them
in its own language: `kefu rules check` and the logs in English, the preview in Chinese
(entrypoints/preview/wording_zh.py holds the same templates in Chinese)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    """`template` is English in str.format syntax ("{size} UTF-8 bytes"); `values` fill it."""

    template: str
    values: tuple[tuple[str, object], ...] = ()

    def __str__(self) -> str:
        return self.template.format_map(dict(self.values))


def words(template: str, /, **values: object) -> Words:
    return Words(template, tuple(values.items()))


def got(value: object) -> Words:
    """What was found where something else was expected: its type."""
    return words("got {kind}", kind=type(value).__name__)


def not_text(value: object) -> Words:
    """What was found where a non-empty text was expected."""
    return words("empty or not text ({value!r})", value=value)
