"""The preview says in Chinese everything the rules report says: every template kefu's code
gives to `words` has a Chinese one naming the same fields, and none is left over."""

from __future__ import annotations

import ast
from pathlib import Path
from string import Formatter

from domain.wording import words
from entrypoints.preview.wording_zh import ZH, in_chinese

ROOT = Path(__file__).resolve().parents[2]


def templates_in_code() -> dict[str, str]:
    """Each literal template passed to words(...) in kefu's packages, with where it is."""
    found: dict[str, str] = {}
    for package in ("domain", "adapters", "entrypoints"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "words":
                    (template, *_) = node.args
                    text = template.value if isinstance(template, ast.Constant) else None
                    assert isinstance(text, str), f"{path}: words() takes a literal template"
                    found.setdefault(text, str(path.relative_to(ROOT)))
    return found


def fields(template: str) -> set[tuple[str, str | None, str | None]]:
    parsed = Formatter().parse(template)
    return {(name, spec, conversion) for _, name, spec, conversion in parsed if name is not None}


def test_every_template_in_the_code_has_chinese_with_the_same_fields():
    code = templates_in_code()
    assert len(code) > 50  # the scan found kefu's templates (a broken scan finds none)
    missing = {template: where for template, where in code.items() if template not in ZH}
    assert missing == {}
    assert {t: ZH[t] for t in code if fields(ZH[t]) != fields(t)} == {}
    assert sorted(set(ZH) - set(code)) == []  # no translation of words the code no longer says


def test_words_inside_words_are_said_in_chinese_too():
    size = words("{size} bytes", size=2048)
    said = words("image is over the {limit}-byte limit ({seen})", limit=1024, seen=size)
    assert str(said) == "image is over the 1024-byte limit (2048 bytes)"
    assert in_chinese(said) == "图片超过 1024 字节的上限（2048 字节）"
