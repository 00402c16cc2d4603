"""Settings, read once from ``BASTION_*`` environment variables.

Every limit that protects Bastion from hostile input lives here, so operators
have one place to look and one naming scheme (``BASTION_MAX_PIXELS`` ...).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from bastion.errors import BastionError

ENV_PREFIX = "BASTION_"
#: Settings that are paths or text; ``watermark_messages`` is parsed from hex,
#: every other one is a whole number.
_PATHS = frozenset(
    {"home", "trust_anchors", "cybertip_credentials", "stamp_cert", "stamp_key", "check_detector"}
)
_TEXTS = frozenset(
    {
        "database_url",
        "fetch_hosts",
        "fetch_ports",
        "media_keys",
        "review_priority",
        "review_allowlist",
        "cybertip_url",
    }
)

#: Bytes of a watermark message Bastion stamps and recognises (48 bits, as SDXL's).
WATERMARK_MESSAGE_BYTES = 6
#: Set bits a message needs, of its 48: a flat image's blocks all vote alike,
#: so its read-out is all zeros or all ones and agrees with at most two thirds
#: of such a message, far below what the watermark reader asks.
WATERMARK_MESSAGE_ONES = range(16, 33)

#: US law (18 U.S.C. 2258A(h), as the REPORT Act amended it) asks a year at least.
LEAST_PRESERVE_DAYS = 365


class ConfigError(BastionError, ValueError):
    """A ``BASTION_*`` variable holds a value Bastion cannot use."""

    code = "config-error"
    status = 500


def secret_file_problem(path: Path, what: str) -> str | None:
    """Why the file at ``path`` cannot hold a secret (a password, a private key),
    or None: it must be a regular file, and neither its group nor others may
    have any access to it (a secret others can read is no longer the
    operator's alone).  ``OSError`` when it cannot be looked at."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        return f"{what} {path} is not a regular file"
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.filemode(info.st_mode)
        return f"{what} {path} may be read by others ({mode}); run: chmod 600 {path}"
    return None


def read_secret_file(path: Path | None, variable: str) -> bytes:
    """The bytes of the secret file ``BASTION_<variable>`` names (see
    :func:`secret_file_problem`), or a ``ConfigError`` saying what is wrong."""
    name = f"{ENV_PREFIX}{variable}"
    if path is None:
        raise ConfigError(f"{name} is not set: name a file readable by its owner only")
    try:
        problem = secret_file_problem(path, name)
        if problem is not None:
            raise ConfigError(problem)
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {name} {path}: {exc.strerror}") from None


def watermark_message_problem(message: bytes) -> str | None:
    """Why ``message`` cannot be a stamp's watermark message, or None if it can."""
    if len(message) != WATERMARK_MESSAGE_BYTES:
        return (
            f"a watermark message is {WATERMARK_MESSAGE_BYTES} bytes "
            f"({2 * WATERMARK_MESSAGE_BYTES} hex digits), not {len(message)}"
        )
    ones = sum(byte.bit_count() for byte in message)
    least, most = WATERMARK_MESSAGE_ONES[0], WATERMARK_MESSAGE_ONES[-1]
    if ones not in WATERMARK_MESSAGE_ONES:
        return (
            f"watermark message {message.hex()} has {ones} of its 48 bits set; it needs "
            f"{least} to {most}, or plain single-colour images would read as marked"
        )
    return None


def _watermark_messages(raw: str) -> tuple[bytes, ...]:
    """``BASTION_WATERMARK_MESSAGES``: comma-separated messages of 12 hex digits."""
    digits = 2 * WATERMARK_MESSAGE_BYTES
    messages = []
    for text in (part.strip() for part in raw.split(",")):
        if not re.fullmatch(f"[0-9a-fA-F]{{{digits}}}", text):
            raise ConfigError(
                f"{ENV_PREFIX}WATERMARK_MESSAGES: {text!r} is not {digits} hex digits"
            )
        message = bytes.fromhex(text)
        problem = watermark_message_problem(message)
        if problem is not None:
            raise ConfigError(f"{ENV_PREFIX}WATERMARK_MESSAGES: {problem}")
        messages.append(message)
    return tuple(messages)


def _default_home() -> Path:
    return Path.home() / ".bastion"


@dataclass(frozen=True, slots=True)
class Settings:
    """Process-wide settings; construct with :meth:`from_env` or directly in tests."""

    #: Where the embedded database, snapshots and review media live.
    home: Path = field(default_factory=_default_home)
    #: Images with more pixels than this are refused before decoding
    #: (decompression bombs). 250 MP admits every camera sold today.
    max_pixels: int = 250_000_000
    #: Files larger than this are refused without being read (videos: below).
    max_file_bytes: int = 1 << 30
    #: Videos are streamed frame by frame, so they may be far larger.
    max_video_bytes: int = 64 << 30
    #: Seconds of a video hashed; frames after this are not decoded.
    max_video_seconds: int = 4 * 3600
    #: Frames of one video hashed (at 1 fps, 4 hours is 14,400).
    max_video_frames: int = 100_000
    #: Wall-clock seconds spent decoding one video before it is given up on
    #: (its frames so far are kept; the row says why it stopped).
    video_time_budget: int = 900
    #: PDQ hashes below this quality are flagged as low quality; Meta's
    #: guidance is not to act on matches of hashes under 50.
    pdq_quality_threshold: int = 50
    #: Levels of archives opened: 0 none, 1 the archives scanned, 2 also the
    #: archives inside those, and so on.
    max_archive_depth: int = 2
    #: A member whose size exceeds its compressed size this many times is
    #: treated as a decompression bomb.
    max_compression_ratio: int = 200
    #: Total bytes one archive may expand to, members and nested archives together.
    max_archive_bytes: int = 64 << 30
    #: SQLAlchemy URL of the store; None means SQLite at ``home/bastion.db``.
    #: PostgreSQL: ``postgresql+psycopg://user@host/dbname``.
    database_url: str | None = None
    #: PEM bundle of C2PA trust anchors (e.g. the C2PA trust list); signers
    #: outside it are reported as "valid, signer not in trust list".
    trust_anchors: Path | None = None
    #: Largest metadata value read for provenance: one XMP packet, PNG text
    #: chunk (after decompression), EXIF block or safetensors header.
    max_metadata_bytes: int = 4 << 20
    #: Watermark messages this operator stamps its generated images with
    #: (``bastion stamp``), read as declared AI-generated evidence; Bastion's
    #: default stamp and Stable Diffusion's are always recognised.
    watermark_messages: tuple[bytes, ...] = ()

    # --- the service (``bastion serve``) -------------------------------------
    #: Largest upload the API accepts (413 above it).
    max_upload_bytes: int = 256 << 20
    #: Seconds a request may run before the API answers 503.
    request_timeout: int = 60
    #: Requests a second each API key may make, per serving process (bursts
    #: of twice this are allowed); 0 turns rate limiting off.
    rate_limit: int = 1000
    #: Hosts the API may fetch ``url=`` media from, comma-separated; empty
    #: (the default) turns URL fetching off.
    fetch_hosts: str = ""
    #: Ports ``url=`` fetches (and their redirects) may connect to, comma-separated.
    fetch_ports: str = "80,443"
    #: URL fetches one serving process runs at once; more are answered 503 at
    #: once. Each holds at most ``max_upload_bytes`` until it is hashed.
    fetch_concurrency: int = 4
    #: Seconds one URL fetch may take in all: lookups, redirects and body.
    fetch_seconds: int = 20
    #: Seconds between checks for bank changes by a serving process.
    index_refresh_seconds: int = 2
    #: Seconds between scheduled syncs of each exchange by ``bastion serve``
    #: (one serving process fetches an exchange at a time); 0 turns them off.
    exchange_interval: int = 300
    #: Hours a reviewer's login lasts.
    session_hours: int = 12
    #: Keys that encrypt review media, comma-separated, newest first
    #: (32 random bytes each, URL-safe base64; ``bastion review keygen``).
    #: Unset: items are queued with their hashes but without their media.
    media_keys: str = field(default="", repr=False)
    #: Days a decided item's media is kept: confirmed items (US law asks
    #: providers to preserve reported material for a year) and the rest.
    retention_confirmed_days: int = 365
    retention_other_days: int = 30
    #: Minutes a claim lasts before the item may be given to someone else.
    claim_minutes: int = 30
    #: Reveals in one login after which the reviewer is asked to take a break.
    break_after_reveals: int = 40
    #: Queue order: "bank" (known-bank hits, most severe category first),
    #: "ai" (AI-provenance evidence) and "other", highest first.
    review_priority: str = "bank,ai,other"
    #: Allowlist bank that false-positive decisions add the item's hashes to.
    review_allowlist: str = "review-false-positives"

    # --- CyberTipline reports (``bastion report``) ----------------------------
    #: Where reports go: NCMEC's test environment unless production is set
    #: (``https://report.cybertip.org/ispws``).
    cybertip_url: str = "https://exttest.cybertip.org/ispws"
    #: A file holding ``user:password`` for the CyberTipline, readable by its
    #: owner only; reports cannot be sent without it.
    cybertip_credentials: Path | None = None
    #: Days a finished report's items are preserved (at least 365).
    preserve_days: int = LEAST_PRESERVE_DAYS
    #: 1 lets reviewers (not only curators and admins) send reports.
    reviewers_report: int = 0

    # --- stamping generated images (``bastion stamp``) --------------------------
    #: PEM certificate chain (signer first) that C2PA manifests are signed with.
    stamp_cert: Path | None = None
    #: PEM private key of that certificate, readable by its owner only.
    stamp_key: Path | None = None

    # --- checking generated outputs (``POST /v1/generation-check``) -----------
    #: 1 keeps a blocked or reviewed output's prompt with it (encrypted like
    #: its media); 0 keeps only what the prompt matched.
    check_keep_prompts: int = 0
    #: An ONNX classifier run on every output (the contract of ``--detector``).
    check_detector: Path | None = None
    #: Score, in percent, at which the classifier sends an output to review.
    check_detector_threshold: int = 50

    @property
    def store_url(self) -> str:
        """The database URL actually used (the embedded SQLite file by default)."""
        return self.database_url or f"sqlite:///{self.home / 'bastion.db'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults overridden by ``BASTION_<FIELD>`` variables."""
        env = os.environ if environ is None else environ
        overrides: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            if f.name in _PATHS:
                overrides[f.name] = Path(raw).expanduser()
                continue
            if f.name in _TEXTS:
                overrides[f.name] = raw
                continue
            if f.name == "watermark_messages":
                overrides[f.name] = _watermark_messages(raw)
                continue
            try:
                value = int(raw.replace("_", ""))
            except ValueError:
                raise ConfigError(
                    f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a whole number"
                ) from None
            if value < 0:
                raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}={raw!r} must not be negative")
            overrides[f.name] = value
        days = overrides.get("preserve_days", LEAST_PRESERVE_DAYS)
        if isinstance(days, int) and days < LEAST_PRESERVE_DAYS:
            raise ConfigError(
                f"{ENV_PREFIX}PRESERVE_DAYS={days} is shorter than the {LEAST_PRESERVE_DAYS} "
                "days US law asks reported material to be preserved; it may only be longer"
            )
        return replace(cls(), **overrides)  # type: ignore[arg-type]
