"""Content Credentials (C2PA) through ``c2pa-python``, offline.

Remote manifests are never fetched: a file that only points to one is
reported with the URL.  Validation uses the trust anchors the operator
configured (a PEM bundle such as the C2PA trust list); only a valid
signature whose chain ends in one of them is "verified".  Anyone can sign a
manifest claiming any origin, so a valid signature from any other signer is
"signed by an untrusted signer", a weaker strength.
"""

from __future__ import annotations

import io
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.provenance.evidence import Evidence, Origin, Strength
from bastion.provenance.source_types import ORIGINS, strongest, term

# c2pa-python (a native library) is imported by the functions that read a
# manifest, which most files never reach (see might_have_manifest).
if TYPE_CHECKING:
    import c2pa

READER = "c2pa"
#: Byte strings without which a file holds no embedded or referenced manifest:
#: the JUMBF box type and label, and XMP's remote-manifest property.
MARKERS = (b"jumb", b"c2pa", b"dcterms:provenance")


def might_have_manifest(data: bytes) -> bool:
    return any(marker in data for marker in MARKERS)


@lru_cache(maxsize=8)
def _context(anchors_pem: str | None, pid: int) -> c2pa.Context:
    """One context per process: a context made before a fork is not valid in
    the child (scan workers are forked), hence the process id in the key."""
    import c2pa

    verify: dict[str, Any] = {"remote_manifest_fetch": False, "ocsp_fetch": False}
    settings: dict[str, Any] = {"verify": verify}
    if anchors_pem is not None:
        settings["trust"] = {"trust_anchors": anchors_pem}
    return c2pa.ContextBuilder().with_settings(c2pa.Settings.from_dict(settings)).build()


def _read_anchors(path: Path | None) -> str | None:
    """The bundle's current text; re-read only when the file changes on disk."""
    if path is None:
        return None
    info = path.stat()
    return _bundle_text(path, info.st_mtime_ns, info.st_size)


@lru_cache(maxsize=8)
def _bundle_text(path: Path, mtime_ns: int, size: int) -> str:
    """Cached by path, modification time and size: one stat per read, not a file read."""
    return path.read_text()


def read_c2pa(data: bytes, mime: str | None, trust_anchors: Path | None = None) -> list[Evidence]:
    """Evidence from the manifest store of a file's bytes (none without markers)."""
    if not might_have_manifest(data):
        return []
    import c2pa

    try:
        context = _context(_read_anchors(trust_anchors), os.getpid())
        reader = c2pa.Reader(mime or "", io.BytesIO(data), context=context)
        store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        return _reader_error(exc)
    return [_manifest_evidence(store)]


def _reader_error(exc: Exception) -> list[Evidence]:
    text = str(exc)
    if "ManifestNotFound" in type(exc).__name__ or "no JUMBF data" in text:
        return []
    if text.startswith("Remote:"):
        url = text.rsplit(" ", 1)[-1]
        summary = f"refers to a remote manifest at {url}, not fetched (offline)"
        return [Evidence(READER, Strength.NOTE, summary, detail={"remote_manifest": url})]
    return [Evidence(READER, Strength.UNREADABLE, f"unreadable: {text}")]


def _manifest_evidence(store: dict[str, Any]) -> Evidence:
    manifests: dict[str, Any] = store.get("manifests", {})
    active_label = store.get("active_manifest")
    active = manifests.get(active_label or "", {})
    statuses = store.get("validation_status") or []
    codes = [s.get("code", "") for s in statuses]
    state = str(store.get("validation_state", "")).lower()
    failures = [c for c in codes if c != "signingCredential.untrusted"]
    actions = [
        {"manifest": label, **action}
        for label, manifest in manifests.items()
        for action in _actions(manifest)
    ]
    active_types = [a["digitalSourceType"] for a in actions if a["manifest"] == active_label]
    ingredient_types = [a["digitalSourceType"] for a in actions if a["manifest"] != active_label]
    origin = strongest([t for t in active_types if t])
    if origin is None and strongest([t for t in ingredient_types if t]) is Origin.AI_GENERATED:
        origin = Origin.AI_EDITED  # made from a generated ingredient
    signature = active.get("signature_info", {})
    trusted = state == "trusted"
    source_types = sorted({term(t) for t in active_types + ingredient_types if t})
    detail: dict[str, Any] = {
        "validation_state": store.get("validation_state"),
        "validation_codes": codes,
        "trust": "trusted" if trusted else "valid, signer not in trust list",
        "digital_source_types": source_types,
        "actions": [_action_summary(a) for a in actions],
        "claim_generator": active.get("claim_generator")
        or _generator_names(active.get("claim_generator_info")),
        "signer": {k: signature.get(k) for k in ("issuer", "common_name", "time", "alg")},
        "manifests": len(manifests),
    }
    issuer = signature.get("issuer") or "unknown signer"
    if state == "invalid" or (failures and state not in ("valid", "trusted")):
        detail["trust"] = None
        return Evidence(
            READER,
            Strength.INVALID,
            f"C2PA manifest does not verify ({', '.join(failures) or state})",
            detail=detail,
        )
    what = ", ".join(source_types) or "no digital source type"
    if trusted:
        summary = f"valid C2PA manifest signed by {issuer} (trusted) declares {what}"
        return Evidence(READER, Strength.VERIFIED, summary, origin, detail)
    summary = (
        f"valid C2PA manifest signed by {issuer}, an untrusted signer "
        f"(not in BASTION_TRUST_ANCHORS), declares {what}"
    )
    return Evidence(READER, Strength.UNTRUSTED_SIGNATURE, summary, origin, detail)


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                found.append(
                    {
                        "action": action.get("action"),
                        "digitalSourceType": action.get("digitalSourceType"),
                        "softwareAgent": _agent(action.get("softwareAgent")),
                    }
                )
    return found


def _agent(value: Any) -> str | None:
    if isinstance(value, dict):
        return " ".join(str(value[k]) for k in ("name", "version") if value.get(k)) or None
    return str(value) if value else None


def _action_summary(action: dict[str, Any]) -> dict[str, Any]:
    source = action.get("digitalSourceType")
    return {
        "manifest": action["manifest"],
        "action": action.get("action"),
        "digital_source_type": term(source) if source else None,
        "software_agent": action.get("softwareAgent"),
        "origin": str(ORIGINS[term(source)]) if source and term(source) in ORIGINS else None,
    }


def _generator_names(info: Any) -> str | None:
    if isinstance(info, list):
        names = [_agent(item) for item in info]
        return ", ".join(n for n in names if n) or None
    return None
