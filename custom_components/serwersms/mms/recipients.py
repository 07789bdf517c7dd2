"""Phone numbers: normalised to international form, split from free text, de-duplicated."""

from __future__ import annotations

from collections.abc import Iterable
import re

_SEPARATORS = re.compile(r"[,;\n]+")
_FILLER = re.compile(r"[\s\-./()]")
# ASCII digits only: `\d` would also take full-width and other scripts' digits.
_DIGITS = re.compile(r"[0-9]+")
POLAND = "48"


class InvalidPhoneNumberError(ValueError):
    """A text is not a phone number the gateway could deliver to."""

    def __init__(self, number: str) -> None:
        """Remember the offending text."""
        super().__init__(number)
        self.number = number


def normalize_phone(raw: str) -> str:
    """Return `raw` as `+<country><number>`; bare 9-digit numbers are Polish.

    `500 600 700` → `+48500600700`, `0048500600700` → `+48500600700`, `+49 151 2345678` stays German.
    """
    compact = _FILLER.sub("", raw.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        digits = compact[1:]
        if _DIGITS.fullmatch(digits) and 8 <= len(digits) <= 15 and not digits.startswith("0"):
            return "+" + digits
        raise InvalidPhoneNumberError(raw)
    if _DIGITS.fullmatch(compact):
        if len(compact) == 9 and not compact.startswith("0"):
            return f"+{POLAND}{compact}"
        if len(compact) == 11 and compact.startswith(POLAND):
            return "+" + compact
    raise InvalidPhoneNumberError(raw)


def split_phones(value: str | Iterable[str]) -> list[str]:
    """Split one text (commas, semicolons, new lines) or a list of texts into number texts."""
    texts = [value] if isinstance(value, str) else list(value)
    return [part.strip() for text in texts for part in _SEPARATORS.split(str(text)) if part.strip()]


def normalize_phones(value: str | Iterable[str]) -> list[str]:
    """Normalise every number in `value`, dropping duplicates, keeping first-seen order."""
    seen: dict[str, None] = {}
    for text in split_phones(value):
        seen.setdefault(normalize_phone(text), None)
    return list(seen)
