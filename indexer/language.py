"""Which locale a text is written in, among the locales jiso serves."""

from __future__ import annotations

from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

SUPPORTED_LOCALES: dict[str, Language] = {"en": Language.ENGLISH, "ja": Language.JAPANESE}


@lru_cache(maxsize=8)
def _detector(locales: tuple[str, ...]) -> LanguageDetector:
    languages = [SUPPORTED_LOCALES[locale] for locale in locales]
    if len(languages) == 1:
        # lingua needs two candidates; a lone locale always wins anyway.
        languages.append(Language.ENGLISH if languages[0] != Language.ENGLISH else Language.JAPANESE)
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


def detect_locale(text: str, locales: tuple[str, ...] = ("en", "ja"), default: str = "en") -> str:
    """The most likely of `locales` for `text`; `default` when the text says nothing (digits, emoji)."""
    if len(locales) == 1:
        return locales[0]
    language = _detector(tuple(sorted(locales))).detect_language_of(text)
    if language is None:
        return default
    for locale, candidate in SUPPORTED_LOCALES.items():
        if candidate == language and locale in locales:
            return locale
    return default
