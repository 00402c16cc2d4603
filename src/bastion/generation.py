"""Check a generated image before it leaves: ``allow``, ``block`` or ``review``.

A generator operator calls this for every output (``POST /v1/generation-check``):

- the output is hashed and matched against the hash banks: a known hash
  **blocks**, with the match;
- the prompt, if sent, is screened against the term banks: a term found as
  written (after normalisation) **blocks**, a near spelling sends the output
  to **review**;
- the operator's ONNX classifier, if configured, sends outputs scoring at or
  above its threshold to **review**;
- anything not checked is never allowed: an output that could not be hashed
  or matched in full, a prompt with no term bank to screen it, or no hash
  bank at all, is **review**, with the reason.

Blocked and review outputs go to the review queue (the prompt with them only
when ``BASTION_CHECK_KEEP_PROMPTS=1``, encrypted like the media).  Only an
allowed output is stamped, if stamping was asked for: a mark of provenance
is for what leaves.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from PIL import Image

from bastion.banks.bank import BankKind
from bastion.config import Settings
from bastion.matching.index import Index
from bastion.matching.match import Match, match_signals
from bastion.pipeline import ScanItem, ScanResult, Status, scan_item
from bastion.provenance import InspectOptions
from bastion.provenance.detector import OnnxDetector
from bastion.review.context import UploadContext
from bastion.review.queue import ReviewQueue
from bastion.signals.types import InvalidSignal, normalize_signal
from bastion.stamping import Stamped, Stamper, StampOptions


class CheckVerdict(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


#: Most severe first: the verdict of a check is the most severe of its reasons'.
_SEVERITY = (CheckVerdict.BLOCK, CheckVerdict.REVIEW, CheckVerdict.ALLOW)


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding and the verdict it asks for."""

    kind: str
    verdict: CheckVerdict
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "verdict": str(self.verdict),
            "message": self.message,
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    verdict: CheckVerdict
    reasons: tuple[Reason, ...]
    scan: ScanResult
    prompt_screened: bool
    #: The review item a blocked or review output was queued as.
    queued: int | None = None
    stamped: Stamped | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": str(self.verdict),
            "reasons": [reason.to_dict() for reason in self.reasons],
            "prompt_screened": self.prompt_screened,
            "queued": self.queued,
            "stamped": None if self.stamped is None else self.stamped.to_dict(),
            "result": self.scan.to_row(),
        }


def check_detector(settings: Settings) -> OnnxDetector | None:
    """The operator's classifier (``BASTION_CHECK_DETECTOR``), if one is configured."""
    if settings.check_detector is None:
        return None
    return OnnxDetector(settings.check_detector, settings.check_detector_threshold / 100)


def verdict_of(reasons: Sequence[Reason]) -> CheckVerdict:
    found = {reason.verdict for reason in reasons}
    return next((verdict for verdict in _SEVERITY if verdict in found), CheckVerdict.ALLOW)


class GenerationChecker:
    """Checks outputs against one installation's banks, queue and stamper."""

    def __init__(
        self,
        queue: ReviewQueue,
        stamper: Stamper,
        settings: Settings,
        detector: OnnxDetector | None = None,
    ) -> None:
        self.queue = queue
        self.stamper = stamper
        self.settings = settings
        self.detector = detector
        self._counted: tuple[tuple[int, int], int, int] | None = None

    def check(
        self,
        data: bytes,
        index: Index,
        *,
        name: str | None,
        prompt: str | None,
        submitted_by: str,
        stamp: StampOptions | None = None,
    ) -> CheckResult:
        scan = scan_item(ScanItem(name or "output", "generation-check", data=data), index,
                         self.settings, provenance=InspectOptions())  # fmt: skip
        reasons = [*_hash_reasons(scan), *self._classifier_reasons(data, scan)]
        hashes, terms = self._live_counts(index)
        if not hashes:
            reasons.append(_NO_BANKS)
        screened = False
        if prompt is not None and prompt.strip():
            found, screened = self._screen(prompt, index) if terms else ([_UNSCREENED], False)
            reasons += found
        verdict = verdict_of(reasons)
        if verdict is CheckVerdict.ALLOW:
            stamped = None if stamp is None else self.stamper.stamp(data, stamp)
            return CheckResult(verdict, tuple(reasons), scan, screened, stamped=stamped)
        kept = prompt if self.settings.check_keep_prompts and prompt else None
        item = self.queue.enqueue(
            scan,
            data,
            submitted_by=submitted_by,
            name=name,
            context=UploadContext(prompt=kept) if kept else None,
            note={"generation_check": {"verdict": str(verdict),
                                       "reasons": [r.to_dict() for r in reasons]}},
        )  # fmt: skip
        return CheckResult(verdict, tuple(reasons), scan, screened, queued=item.id)

    def _live_counts(self, index: Index) -> tuple[int, int]:
        """Live blocklist entries that are hashes, and that are terms; counted
        again only when the index has changed (a count reads every row)."""
        key = (id(index), index.seq)
        if self._counted is None or self._counted[0] != key:
            counts, terms = index.entry_counts(), index.term_counts()
            live = _live_entries(index, counts, terms), _live_entries(index, terms)
            self._counted = (key, *live)
        return self._counted[1], self._counted[2]

    def _screen(self, prompt: str, index: Index) -> tuple[list[Reason], bool]:
        """The prompt's reasons, and whether it was screened against any term at all."""
        try:
            outcome = match_signals([normalize_signal("text", prompt)], index)
        except InvalidSignal as exc:
            return [Reason("prompt-not-screened", CheckVerdict.REVIEW, str(exc))], False
        return _prompt_reasons(outcome.matches), True

    def _classifier_reasons(self, data: bytes, scan: ScanResult) -> list[Reason]:
        """The operator's classifier's say, on an output that decoded as an image."""
        if self.detector is None or scan.status is not Status.HASHED:
            return []
        try:
            with Image.open(io.BytesIO(data)) as image:
                score = self.detector.score(image)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            return [
                Reason("unchecked", CheckVerdict.REVIEW, f"the classifier could not run: {exc}")
            ]
        if score < self.detector.threshold:
            return []
        name, threshold = self.detector.name, self.detector.threshold
        detail = {"model": name, "score": round(score, 4), "threshold": threshold}
        said = f"the classifier {name} scored {score:.2f}"
        return [Reason("classifier", CheckVerdict.REVIEW, said, detail)]


_NO_BANKS = Reason(
    "no-hash-banks", CheckVerdict.REVIEW, "there is no hash bank to match the output against"
)
_UNSCREENED = Reason(
    "prompt-not-screened",
    CheckVerdict.REVIEW,
    "a prompt was sent but there is no term bank to screen it against",
)


def _hash_reasons(scan: ScanResult) -> list[Reason]:
    reasons = [
        Reason(
            "known-hash",
            CheckVerdict.BLOCK,
            f"matches {match.bank} ({match.signal_type})",
            match.to_dict(),
        )
        for match in scan.matches
    ]
    if not scan.fully_checked():
        why = scan.error.message if scan.error else "not every hash of the output was matched"
        reasons.append(Reason("unchecked", CheckVerdict.REVIEW, why))
    return reasons


def _live_entries(index: Index, *counts: dict[int, int]) -> int:
    """Entries of live blocklists: ``counts[0]`` less any later counts (by bank)."""
    total = 0
    for bank_id, bank in index.banks.items():
        if bank.kind is BankKind.ALLOWLIST:
            continue
        first, *rest = (count.get(bank_id, 0) for count in counts)
        total += first - sum(rest)
    return total


def _prompt_reasons(matches: Sequence[Match]) -> list[Reason]:
    """A term as written (after normalisation) blocks; a near spelling asks for review."""
    return [
        Reason(
            "prompt-term" if match.distance == 0 else "prompt-term-near",
            CheckVerdict.BLOCK if match.distance == 0 else CheckVerdict.REVIEW,
            f"the prompt holds a term of {match.bank} (entry {match.entry_id})"
            + ("" if match.distance == 0 else f", {match.distance} edit(s) away"),
            match.to_dict(),
        )
        for match in matches
    ]
