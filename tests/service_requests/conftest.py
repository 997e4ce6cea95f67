"""Fixtures of the public pages' tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Civilians' documents go to a temporary folder, never into the checkout."""
    root = tmp_path / "private-media"
    settings.HMS_REQUESTS_ATTACHMENTS_ROOT = str(root)
    return root
