"""Every message exists in English and Chinese; language negotiation picks the right one."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import aicommons.portal
from aicommons.portal.cli.messages import MESSAGES as CLI_MESSAGES
from aicommons.portal.core import i18n


def _import_all_message_modules() -> None:
    for package in ("aicommons.portal", "aicommons.scheduler", "aicommons.datasets"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if info.name.endswith("messages"):
                importlib.import_module(info.name)


def test_every_registered_message_has_both_languages() -> None:
    _import_all_message_modules()
    catalogue = i18n.catalogue()
    assert len(catalogue) > 20
    for code, texts in catalogue.items():
        assert texts.get("en") and texts.get("zh"), code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in texts["zh"]), f"{code} zh text is not Chinese"


def test_every_cli_message_has_both_languages() -> None:
    for key, texts in CLI_MESSAGES.items():
        assert set(texts) == {"en", "zh"}, key
        # Both must take the same parameters, so neither language can fail to render.
        assert sorted(_fields(texts["en"])) == sorted(_fields(texts["zh"])), key


def _fields(template: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh-TW;q=0.5", "zh"),
        ("de", "en"),
        ("en;q=0.1, zh;q=0.9", "zh"),
        ("zh;q=bogus", "zh"),
    ],
)
def test_negotiate(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_translate_formats_parameters_and_falls_back() -> None:
    _import_all_message_modules()
    assert i18n.translate("org.slug_taken", "zh", {"slug": "acme"}) == "标识为 acme 的机构已存在"
    assert i18n.translate("org.slug_taken", "en", {}) == "An organisation with slug {slug} already exists"
    assert i18n.translate("no.such.code", "en", None, "fallback") == "fallback"


def test_register_refuses_a_single_language() -> None:
    with pytest.raises(ValueError, match="zh"):
        i18n.register({"x.only_english": {"en": "hello"}})
    assert aicommons.portal.__version__
