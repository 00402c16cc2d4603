"""Signed scan attestations: a finished scan, stated so anyone can check it.

``bastion scan --attest KEY`` ends with DIR/attestation.json, an in-toto
Statement (its subjects: the SHA-256 of every file the scan read; its
predicate: the scan's banks, counts and outputs) in a DSSE envelope signed
with Ed25519.  ``bastion attest verify`` checks the signature, the
statement's shape and, given the dataset, every subject's digest.  See
docs/attestation.md for what it proves and what it does not.
"""
