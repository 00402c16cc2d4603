"""DSSE envelopes: the spec's own examples, securesystemslib as the reference, and tampering.

The vectors below are published data of the DSSE specification
(secure-systems-lab/dsse: protocol.md's example, testvectors/vectors.json),
signed with the Ed25519 keys of RFC 8032 section 7.1, TEST 1 and TEST 2.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from securesystemslib.dsse import Envelope as ReferenceEnvelope
from securesystemslib.signer import CryptoSigner, SSlibKey

from bastion.attest.envelope import IN_TOTO_PAYLOAD_TYPE, Envelope, Signature, pae, sign
from bastion.attest.errors import AttestationInvalid
from bastion.attest.keys import key_id

RFC8032_TEST1 = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
)
RFC8032_TEST2 = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
)
STATEMENT = "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ=="
STATEMENT_PAE = (
    "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e2034332"
    "07b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d"
)
#: (vector id, envelope, PAE hex, accepted with key TEST 1 and type in-toto).
VECTORS = [
    (
        "single-signature",
        {
            "payload": STATEMENT,
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [
                {
                    "sig": "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm"
                    "7AxBZNw5M9ixNHiCA==",
                    "keyid": "A",
                }
            ],
        },
        STATEMENT_PAE,
        True,
    ),
    (
        "url-safe-base64",
        {
            "payload": "-_-_Pj8=",
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [
                {
                    "sig": "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW8"
                    "86DbWNWcCmX5twLrAw==",
                    "keyid": "A",
                }
            ],
        },
        "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203520"
        "fbffbf3e3f",
        True,
    ),
    (
        "payload-type-swapped",
        {
            "payload": STATEMENT,
            "payloadType": "application/vnd.example.other+json",
            "signatures": [
                {
                    "sig": "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm"
                    "7AxBZNw5M9ixNHiCA==",
                    "keyid": "A",
                }
            ],
        },
        None,
        False,
    ),
    (
        "non-ascii-payload-type",
        {
            "payload": STATEMENT,
            "payloadType": "application/vnd.exämple+json",
            "signatures": [
                {
                    "sig": "xmSk/ug66ysT7ayhkCIjhAq42zgZXSsEWuzUaNL7w2eGAdF/NU6/fRXPtmfN+5DNSAs5/"
                    "i2lUnHjbbjPsu0tAw==",
                    "keyid": "A",
                }
            ],
        },
        "445353457631203239206170706c69636174696f6e2f766e642e6578c3a46d706c652b6a736f6e20343320"
        "7b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d",
        True,
    ),
    (
        "empty-payload",
        {
            "payload": "",
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [
                {
                    "sig": "gSggCAaTLTYyRH6FIDBem6meyIynsYy8RTHVzwx9tnTb7Bg/1jMWnuVgI/gffqmbsC2VX5"
                    "/jHfkkDqsj7CDbDg==",
                    "keyid": "A",
                }
            ],
        },
        "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203020",
        True,
    ),
    (
        "threshold-two-without-keyids",  # KEYID is optional; one of two keys is ours
        {
            "payload": STATEMENT,
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [
                {
                    "sig": "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm"
                    "7AxBZNw5M9ixNHiCA=="
                },
                {
                    "sig": "c1+67/aT0yqEpwx8PsVY3MLHsj9D0CZ014/Fv/QlG59P+9CobUZ7xECJ/V3USG0Ob9CiE5L"
                    "jReEZUzNF2l7eBw=="
                },
            ],
        },
        STATEMENT_PAE,
        True,
    ),
]


def test_pae_is_the_protocols_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@pytest.mark.parametrize(
    ("envelope", "pae_hex", "accepted"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS]
)
def test_dsse_test_vectors(
    envelope: dict[str, object], pae_hex: str | None, accepted: bool
) -> None:
    parsed = Envelope.from_json(envelope)
    if pae_hex is not None:
        assert pae(parsed.payload_type, parsed.payload).hex() == pae_hex
    public = RFC8032_TEST1.public_key()
    if accepted:
        assert parsed.verify(public).sig == RFC8032_TEST1.sign(pae_bytes(parsed))
    else:
        with pytest.raises(AttestationInvalid, match=r"^signature: "):
            parsed.verify(public)


def pae_bytes(envelope: Envelope) -> bytes:
    return pae(envelope.payload_type, envelope.payload)


def test_signing_the_vectors_payload_gives_the_vectors_signature() -> None:
    """Ed25519 is deterministic: our envelope is the vector's, byte for byte."""
    statement = b'{"_type":"https://in-toto.io/Statement/v1"}'
    envelope = sign(statement, IN_TOTO_PAYLOAD_TYPE, RFC8032_TEST1)
    vector = VECTORS[0][1]
    assert envelope.to_json()["payload"] == vector["payload"]  # type: ignore[index]
    assert envelope.to_json()["signatures"][0]["sig"] == vector["signatures"][0]["sig"]  # type: ignore[index]


def test_a_second_key_verifies_its_own_signature_only() -> None:
    parsed = Envelope.from_json(VECTORS[-1][1])
    assert parsed.verify(RFC8032_TEST1.public_key()) == parsed.signatures[0]
    assert parsed.verify(RFC8032_TEST2.public_key()) == parsed.signatures[1]


def test_the_keyid_is_securesystemslibs_and_only_a_hint() -> None:
    key = Ed25519PrivateKey.generate()
    assert key_id(key.public_key()) == SSlibKey.from_crypto(key.public_key()).keyid
    envelope = sign(b"{}", IN_TOTO_PAYLOAD_TYPE, key)
    relabelled = Envelope(
        envelope.payload, envelope.payload_type, (Signature(envelope.signatures[0].sig, "other"),)
    )
    assert relabelled.verify(key.public_key()).keyid == "other"


def test_a_wrong_key_is_named_as_such() -> None:
    envelope = sign(b"{}", IN_TOTO_PAYLOAD_TYPE, RFC8032_TEST1)
    with pytest.raises(AttestationInvalid, match="not signed by the given key"):
        envelope.verify(RFC8032_TEST2.public_key())


def test_securesystemslib_verifies_what_we_sign() -> None:
    key = Ed25519PrivateKey.generate()
    ours = sign(b'{"_type":"https://in-toto.io/Statement/v1"}', IN_TOTO_PAYLOAD_TYPE, key)
    reference = ReferenceEnvelope.from_dict(json.loads(json.dumps(ours.to_json())))
    accepted = reference.verify([SSlibKey.from_crypto(key.public_key())], 1)
    assert list(accepted) == [key_id(key.public_key())]


def test_we_verify_what_securesystemslib_signs() -> None:
    key = Ed25519PrivateKey.generate()
    reference = ReferenceEnvelope(b"payload bytes", IN_TOTO_PAYLOAD_TYPE, {})
    reference.sign(CryptoSigner(key))
    parsed = Envelope.from_json(json.loads(json.dumps(reference.to_dict())))
    assert parsed.payload == b"payload bytes"
    assert parsed.verify(key.public_key()).keyid == key_id(key.public_key())


@given(st.text(), st.binary())
def test_pae_is_securesystemslibs(payload_type: str, payload: bytes) -> None:
    assert pae(payload_type, payload) == ReferenceEnvelope(payload, payload_type, {}).pae()


KEY = Ed25519PrivateKey.generate()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_any_payload_round_trips(payload: bytes) -> None:
    text = json.dumps(sign(payload, IN_TOTO_PAYLOAD_TYPE, KEY).to_json())
    parsed = Envelope.from_json(json.loads(text))
    assert parsed.payload == payload
    parsed.verify(KEY.public_key())


def _flip(data: bytes, position: int, xor: int) -> bytes:
    changed = bytearray(data)
    changed[position % len(changed)] ^= xor
    return bytes(changed)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=1, max_size=512),
    st.integers(min_value=0),
    st.integers(min_value=1, max_value=255),
    st.booleans(),
)
def test_any_single_byte_change_fails(
    payload: bytes, position: int, xor: int, in_signature: bool
) -> None:
    envelope = sign(payload, IN_TOTO_PAYLOAD_TYPE, KEY)
    signature = envelope.signatures[0]
    if in_signature:
        signature = Signature(_flip(signature.sig, position, xor), signature.keyid)
    else:
        payload = _flip(payload, position, xor)
    with pytest.raises(AttestationInvalid, match="altered after it was signed"):
        Envelope(payload, envelope.payload_type, (signature,)).verify(KEY.public_key())


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "expected a JSON object"),
        ({"payload": "", "payloadType": "x"}, "no signatures"),
        ({"payload": "", "payloadType": 3, "signatures": [{"sig": ""}]}, "payloadType is not"),
        ({"payload": "", "payloadType": "x", "signatures": []}, "has no signatures"),
        ({"payload": "", "payloadType": "x", "signatures": [{}]}, "has no sig"),
        ({"payload": "*", "payloadType": "x", "signatures": [{"sig": ""}]}, "payload is not"),
        ({"payload": "", "payloadType": "x", "signatures": [{"sig": 5}]}, "signature is not"),
        ({"payload": "", "payloadType": "x", "signatures": [{"sig": "", "keyid": 1}]}, "keyid"),
    ],
)
def test_malformed_envelopes_are_refused_with_their_reason(document: object, reason: str) -> None:
    with pytest.raises(AttestationInvalid, match=reason):
        Envelope.from_json(document)
