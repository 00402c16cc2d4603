"""Reading an exchange's secret from a file or the environment, never the store.

The store keeps only where the secret is (``/etc/bastion/ncmec.cred`` or
``env:NCMEC_CREDENTIALS``).  A file that others may read is refused, with
the reason and the fix, before anything is sent: a secret on a shared
machine is a leaked secret.  Secrets never appear in messages.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bastion.exchanges.errors import ExchangeConfigError

ENV_PREFIX = "env:"


def check_location(location: str) -> str:
    """Where the secret is, as the store keeps it, if it can be read now (refused
    otherwise): a file as an absolute path, since syncs run from cron or a
    server in another folder than the one it was added from."""
    read_secret(location)
    if location.startswith(ENV_PREFIX):
        return location
    return str(Path(location).resolve())


def read_secret(location: str) -> str:
    """The secret at ``location``: a file path, or ``env:VARIABLE``."""
    if location.startswith(ENV_PREFIX):
        variable = location[len(ENV_PREFIX) :]
        value = os.environ.get(variable, "").strip()
        if not value:
            raise ExchangeConfigError(f"the environment variable {variable} is unset or empty")
        return value
    path = Path(location)
    try:
        info = path.stat()
    except OSError as exc:
        raise ExchangeConfigError(f"cannot read credentials {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ExchangeConfigError(f"credentials {path} is not a regular file")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.filemode(info.st_mode)
        raise ExchangeConfigError(
            f"credentials {path} can be read by others ({mode}); run: chmod 600 {path}"
        )
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExchangeConfigError(f"cannot read credentials {path}: {exc}") from None
    if not value:
        raise ExchangeConfigError(f"credentials {path} is empty")
    return value


def split_secret(secret: str, separator: str, parts: int, form: str) -> list[str]:
    """A secret of ``parts`` fields (``user:password``), or a refusal naming ``form``."""
    fields = secret.split(separator, parts - 1)
    if len(fields) != parts or not all(field.strip() for field in fields):
        raise ExchangeConfigError(f"credentials must be {form}")
    return [field.strip() for field in fields]
