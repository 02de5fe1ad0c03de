"""Masking of personal names for roles that may not see them."""

from __future__ import annotations

from functools import lru_cache

MASK = "***"
CACHED_NAMES = 65_536  # names repeat across pages and sorts; masking them is the costly part


@lru_cache(maxsize=CACHED_NAMES)
def mask_name(name: str | None) -> str | None:
    """Every word keeps its first letter followed by `***`: "Maria da Silva" -> "M*** d*** S***"."""
    if name is None:
        return None
    return " ".join([word[0] + MASK for word in name.split()])
