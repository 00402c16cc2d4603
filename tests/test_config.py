from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import ConfigError, Settings, secret_file_problem


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


def test_a_secret_file_must_be_a_regular_file_its_owner_alone_may_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("user:password\n")
    secret.chmod(0o600)
    assert secret_file_problem(secret, "credentials") is None
    secret.chmod(0o640)
    assert secret_file_problem(secret, "credentials") == (
        f"credentials {secret} may be read by others (-rw-r-----); run: chmod 600 {secret}"
    )
    assert secret_file_problem(tmp_path, "key") == f"key {tmp_path} is not a regular file"
    with pytest.raises(FileNotFoundError):
        secret_file_problem(tmp_path / "missing", "key")
