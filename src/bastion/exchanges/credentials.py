"""Reading an exchange's secret from a file or the environment, never the store.

The store keeps only where the secret is (``/etc/bastion/ncmec.cred`` or
``env:NCMEC_CREDENTIALS``).  A file that others may read is refused, with
the reason and the fix, before anything is sent: a secret on a shared
machine is a leaked secret.  Secrets never appear in messages.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bastion.config import secret_file_problem
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
        problem = secret_file_problem(path, "credentials")
    except OSError as exc:
        raise ExchangeConfigError(f"cannot read credentials {path}: {exc.strerror}") from None
    if problem is not None:
        raise ExchangeConfigError(problem)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExchangeConfigError(f"cannot read credentials {path}: {exc}") from None
    if not value:
        raise ExchangeConfigError(f"credentials {path} is empty")
    return value


def store_secret(path: Path, value: str) -> str:
    """Write ``value`` to ``path`` (mode 0600, its folder 0700) and return the
    location to record; the file is replaced whole, never seen half written.

    For doors that take a secret over the network: the store records where
    it is, as for one an operator wrote.  An empty value is refused (it
    would fail at the first sync at night instead of now).
    """
    if not value.strip():
        raise ExchangeConfigError("the credentials are empty")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(value.strip() + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return str(path)


def split_secret(secret: str, separator: str, parts: int, form: str) -> list[str]:
    """A secret of ``parts`` fields (``user:password``), or a refusal naming ``form``."""
    fields = secret.split(separator, parts - 1)
    if len(fields) != parts or not all(field.strip() for field in fields):
        raise ExchangeConfigError(f"credentials must be {form}")
    return [field.strip() for field in fields]
