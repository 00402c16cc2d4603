"""DSSE envelopes signed with Ed25519: the layer that makes a statement checkable.

DSSE (the Dead Simple Signing Envelope of secure-systems-lab, protocol
v1.0.0) signs ``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body)
SP body``, so the payload type is signed with the payload and neither can be
swapped.  The envelope is JSON: ``{"payload": base64, "payloadType": ...,
"signatures": [{"keyid": ..., "sig": base64}]}``.

Written here on ``cryptography`` rather than taken from securesystemslib's
``dsse.Envelope``, whose verifier requires a keyid on every signature and
tries only the keys whose id matches it; DSSE makes the keyid an
unauthenticated hint that must never decide anything (securesystemslib
says so itself, its issue 416), and a verifier must also tell a wrong key
from an altered attestation, each in its own words.  The tests hold this
module to securesystemslib as the reference (each verifies what the other
signs, the PAE is byte for byte the same) and to the DSSE test vectors.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bastion.attest.errors import AttestationInvalid
from bastion.attest.keys import key_id

#: What an in-toto Statement travels as.
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: the bytes a signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _b64decode(text: object, field: str) -> bytes:
    """Standard or URL-safe base64, padded or not: DSSE verifiers must take either."""
    if not isinstance(text, str):
        raise AttestationInvalid(f"the envelope's {field} is not a base64 string")
    standard = text.translate(str.maketrans("-_", "+/"))
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise AttestationInvalid(f"the envelope's {field} is not base64") from None


@dataclass(frozen=True, slots=True)
class Signature:
    sig: bytes
    #: Which key made it: a hint for choosing keys, never trusted.
    keyid: str | None = None

    def to_json(self) -> dict[str, str]:
        signed = {"sig": base64.b64encode(self.sig).decode()}
        return signed if self.keyid is None else {"keyid": self.keyid, **signed}


@dataclass(frozen=True, slots=True)
class Envelope:
    payload: bytes
    payload_type: str
    signatures: tuple[Signature, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": [signature.to_json() for signature in self.signatures],
        }

    @classmethod
    def from_json(cls, data: object) -> Envelope:
        """The envelope in parsed JSON, or :class:`AttestationInvalid` saying what is wrong."""
        if not isinstance(data, dict):
            raise AttestationInvalid("not a DSSE envelope: expected a JSON object")
        missing = [key for key in ("payload", "payloadType", "signatures") if key not in data]
        if missing:
            raise AttestationInvalid(f"not a DSSE envelope: no {', '.join(missing)}")
        if not isinstance(data["payloadType"], str):
            raise AttestationInvalid("the envelope's payloadType is not a string")
        listed = data["signatures"]
        if not isinstance(listed, list) or not listed:
            raise AttestationInvalid("the envelope has no signatures")
        signatures = []
        for signature in listed:
            if not isinstance(signature, dict) or "sig" not in signature:
                raise AttestationInvalid("an envelope signature has no sig")
            keyid = signature.get("keyid")
            if keyid is not None and not isinstance(keyid, str):
                raise AttestationInvalid("an envelope signature's keyid is not a string")
            signatures.append(Signature(_b64decode(signature["sig"], "signature"), keyid))
        payload = _b64decode(data["payload"], "payload")
        return cls(payload, data["payloadType"], tuple(signatures))

    def verify(self, key: Ed25519PublicKey) -> Signature:
        """The signature ``key`` made over this payload and payload type.

        Every signature is tried, whatever its keyid says; the keyids only
        shape the message when none verifies.
        """
        message = pae(self.payload_type, self.payload)
        for signature in self.signatures:
            try:
                key.verify(signature.sig, message)
            except InvalidSignature:
                continue
            return signature
        ours = key_id(key)
        named = sorted({s.keyid for s in self.signatures if s.keyid is not None})
        if named and ours not in named:
            raise AttestationInvalid(
                f"signature: not signed by the given key (key id {ours[:16]}…); "
                f"the envelope names key id {', '.join(k[:16] + '…' for k in named)}"
            )
        if named:
            raise AttestationInvalid(
                "signature: does not match the payload and its type; "
                "the attestation was altered after it was signed"
            )
        raise AttestationInvalid(
            "signature: none verifies with the given key; the attestation was altered "
            "after it was signed, or signed with another key"
        )


def sign(payload: bytes, payload_type: str, key: Ed25519PrivateKey) -> Envelope:
    """``payload`` in an envelope with one Ed25519 signature by ``key``."""
    signature = Signature(key.sign(pae(payload_type, payload)), key_id(key.public_key()))
    return Envelope(payload, payload_type, (signature,))
