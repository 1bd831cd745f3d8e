"""The shared BQ evaluation set (never copied here: its licence allows internal evaluation only).

Read from `../shared/reference/faq/bq_faq.json` beside the checkout, or `KEFU_FAQ_FILE`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLACES = (ROOT.parent / "shared", ROOT.parent.parent / "shared", Path("/work/shared"))
MAX_FALSE_ANSWERS = 0.05


@dataclass(frozen=True)
class Intent:
    key: str  # the standard question
    similar: tuple[str, ...]
    reply: str


@dataclass(frozen=True)
class Half:
    name: str
    queries: tuple[tuple[str, str], ...]  # (intent key, text)
    negatives: tuple[str, ...]


def faq_file() -> Path | None:
    named = os.environ.get("KEFU_FAQ_FILE")
    candidates = [Path(named)] if named else [p / "reference/faq/bq_faq.json" for p in PLACES]
    return next((path for path in candidates if path.is_file()), None)


def load(path: Path) -> tuple[tuple[Intent, ...], dict[str, Half]]:
    data = json.loads(path.read_text("utf-8"))
    intents = tuple(
        Intent(i["standard"], tuple(i["similar"]), f"答复 {i['id']}") for i in data["intents"]
    )
    halves = {
        name: Half(
            name,
            tuple((i["standard"], q) for i in data["intents"] for q in i[f"queries_{name}"]),
            tuple(data[f"negatives_{name}"]),
        )
        for name in ("dev", "test")
    }
    return intents, halves


def rules_document(intents: tuple[Intent, ...], default: str) -> dict[str, object]:
    document: dict[str, object] = {
        intent.key: {
            "similar": list(intent.similar),
            "reply": {"type": "text", "text": intent.reply},
        }
        for intent in intents
    }
    document["default"] = {"type": "text", "text": default}
    return document


def lowest_threshold(negative_scores: list[float], share: float = MAX_FALSE_ANSWERS) -> float:
    """The lowest threshold answering at most `share` of the negatives (answers are scores at
    or above it)."""
    ordered = sorted(negative_scores, reverse=True)
    allowed = int(share * len(ordered))
    return ordered[allowed] + 1e-6 if allowed < len(ordered) else float("-inf")
