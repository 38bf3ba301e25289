"""The widget's branding colours, checked against WCAG 2.1 AA: text on the accent colour (the
launcher, the panel's header, the visitor's messages, the Send button) needs a contrast of at
least 4.5:1. widget.js applies the same rule to `data-*` colours (it adjusts them and says so in
the console); here a setting below it is refused at start-up."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
AA_TEXT = 4.5
WHITE, NEAR_BLACK, BLACK = "#ffffff", "#1f2430", "#000000"


def rgb(colour: str) -> tuple[int, int, int]:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def luminance(colour: str) -> float:
    """WCAG relative luminance."""
    channels = [value / 255 for value in rgb(colour)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_on(background: str) -> str:
    """White text if it reaches AA on `background`, else our near-black, else black (white or black
    always does: the worst background, at luminance 0.18, gives 4.58:1)."""
    return next((text for text in (WHITE, NEAR_BLACK) if contrast(background, text) >= AA_TEXT), BLACK)
