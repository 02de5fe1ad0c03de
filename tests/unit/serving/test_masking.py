from __future__ import annotations

import pytest

from condolake.serving.masking import mask_name


@pytest.mark.parametrize(("name", "masked"), [
    ("Maria da Silva", "M*** d*** S***"),
    ("João", "J***"),
    ("  Ana   Beatriz  ", "A*** B***"),
    ("Élida de Araújo-Souza", "É*** d*** A***"),
    ("", ""),
    (None, None),
])
def test_every_word_keeps_its_first_letter(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked
