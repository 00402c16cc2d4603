from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import ConfigError, Settings


def test_defaults_and_overrides() -> None:
    settings = Settings.from_env(
        {"BASTION_MAX_PIXELS": "1_000", "BASTION_HOME": "/data/b", "BASTION_UNRELATED": "x"}
    )
    assert settings.max_pixels == 1000
    assert settings.home == Path("/data/b")
    assert settings.pdq_quality_threshold == 50


@pytest.mark.parametrize("value", ["many", "-5", "1.5"])
def test_bad_numbers_name_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="BASTION_MAX_FILE_BYTES"):
        Settings.from_env({"BASTION_MAX_FILE_BYTES": value})
