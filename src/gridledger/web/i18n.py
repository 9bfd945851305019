"""Translation catalogues: every label and message of the web interface, in each language.

``i18n/<lang>/<view>.json`` holds flat ``{"key": "text"}`` objects; the files of a language are
merged (a key may appear in one file only). Texts may hold ``{name}`` fields. A page's language
comes from ``?lang=``, then the ``lang`` cookie, then the browser's ``Accept-Language``; English
is the fallback. Both languages must hold the same keys (tested).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request

LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"
LANG_NAMES = {"en": "English", "zh-CN": "简体中文"}
_DIR = Path(__file__).with_name("i18n")


class MissingText(KeyError):
    """A template asked for a key no catalogue holds: a bug, shown loudly."""


@lru_cache(maxsize=len(LANGS))
def catalogue(lang: str) -> dict[str, str]:
    """The merged catalogue of ``lang``."""
    merged: dict[str, str] = {}
    for path in sorted((_DIR / lang).glob("*.json")):
        texts = json.loads(path.read_text(encoding="utf-8"))
        for key, text in texts.items():
            if key in merged:
                raise ValueError(f"{path}: key {key!r} is defined twice in {lang}")
            merged[key] = text
    return merged


def pick_lang(request: Request) -> str:
    """The language of the page asked for."""
    asked = request.query_params.get("lang") or request.cookies.get("lang")
    if asked in LANGS:
        return str(asked)
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANG


class Translator:
    """``t(key, **fields)`` for one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.texts = catalogue(lang)

    def __call__(self, key: str, **fields: object) -> str:
        try:
            text = self.texts[key]
        except KeyError:
            raise MissingText(f"no text {key!r} in the {self.lang} catalogue") from None
        return text.format(**fields) if fields else text
