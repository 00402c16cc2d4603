"""The errors attestations raise: what cannot be signed or checked as asked,
a key file that cannot be used, and an attestation that does not verify."""

from __future__ import annotations

from bastion.errors import BastionError


class AttestError(BastionError, ValueError):
    """An attestation that cannot be made or checked as asked (no finished
    scan, a file changed since it was scanned, a --dataset per source missing)."""

    code = "attest-error"
    status = 400


class AttestKeyError(AttestError):
    """A key file that cannot be used: unreadable, readable by others, not
    PEM, not Ed25519, or a private key where the public one belongs."""

    code = "attest-key"
    status = 400


class AttestationInvalid(AttestError):
    """An attestation that does not verify; the message says which check failed."""

    code = "attestation-invalid"
    status = 422
