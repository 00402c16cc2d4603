"""Every built-in signal type meets the SignalType contract."""

from __future__ import annotations

import random
import string

from bastion.signals.text import normalize
from bastion.signals.types import SIGNAL_TYPES, DigestType
from bastion.signals.vpdq import VpdqFeature, parse_vpdq, to_meta_text, to_signal_value
from tests.contracts.signal_type import THRESHOLD, SignalTypeContract
from tests.signals.words import placeholder_text, with_typos


def random_hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def flip_random_bits(hex_hash: str, count: int, rng: random.Random) -> str:
    """``hex_hash`` with ``count`` distinct random bits inverted: distance ``count``."""
    mask = sum(1 << bit for bit in rng.sample(range(256), count))
    return f"{int(hex_hash, 16) ^ mask:064x}"


class ExactContract(SignalTypeContract):
    """Types found only by an identical value: a near value is the same one or another."""

    def near_value(self, value: str, rng: random.Random) -> str:
        return value if rng.random() < 0.5 else self.random_value(rng)


class DigestContract(ExactContract):
    def random_value(self, rng: random.Random) -> str:
        return random_hex(rng, self.digest.hex_length)

    @property
    def digest(self) -> DigestType:
        assert isinstance(self.TYPE, DigestType)
        return self.TYPE

    def other_spellings(self, value: str) -> list[str]:
        return [value.upper(), f"  {value}\n"]

    def bad_values(self) -> list[str]:
        length = self.digest.hex_length
        return ["", "0" * (length - 1), "0" * (length + 1), "g" * length, "0x" + "0" * (length - 2)]


class TestMd5(DigestContract):
    TYPE = SIGNAL_TYPES["md5"]


class TestSha1(DigestContract):
    TYPE = SIGNAL_TYPES["sha1"]


class TestSha256(DigestContract):
    TYPE = SIGNAL_TYPES["sha256"]


class TestVideoMd5(DigestContract):
    TYPE = SIGNAL_TYPES["video_md5"]


class TestModelSha256(DigestContract):
    TYPE = SIGNAL_TYPES["model_sha256"]


class TestModelAutoV2(DigestContract):
    TYPE = SIGNAL_TYPES["model_autov2"]


class TestPhotoDna(ExactContract):
    TYPE = SIGNAL_TYPES["photodna"]

    def random_value(self, rng: random.Random) -> str:
        alphabet = string.ascii_letters + string.digits + string.punctuation
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 300)))

    def other_spellings(self, value: str) -> list[str]:
        return [f"\t{value} "]

    def bad_values(self) -> list[str]:
        return ["", "two words", "x" * 2049, "caf\u00e9", "tab\there"]


class TestPdq(SignalTypeContract):
    TYPE = SIGNAL_TYPES["pdq"]

    def random_value(self, rng: random.Random) -> str:
        return random_hex(rng, 64)

    def near_value(self, value: str, rng: random.Random) -> str:
        return flip_random_bits(value, rng.randint(THRESHOLD - 3, THRESHOLD + 3), rng)

    def other_spellings(self, value: str) -> list[str]:
        return [value.upper(), f" {value}\r\n"]

    def bad_values(self) -> list[str]:
        return ["", "0" * 63, "0" * 65, "z" * 64, "pdq:" + "0" * 60]


class TestVpdq(SignalTypeContract):
    TYPE = SIGNAL_TYPES["vpdq"]
    #: Frames per random video; one in five missing from a query is still a match.
    FRAMES = 5

    def random_value(self, rng: random.Random) -> str:
        # Some frames fall below the quality Meta's rule compares.
        frames = [
            VpdqFeature(n, rng.choice((100, 90, 60, 10)), random_hex(rng, 64), float(n))
            for n in range(self.FRAMES)
        ]
        return to_signal_value(frames)

    def near_value(self, value: str, rng: random.Random) -> str:
        """Frames a little changed, or some replaced by unrelated ones."""
        frames = parse_vpdq(value)
        replaced = set(rng.sample(range(len(frames)), rng.randint(0, 2)))
        near = [
            VpdqFeature(
                f.frame,
                f.quality,
                random_hex(rng, 64) if f.frame in replaced else flip_random_bits(f.hex, 8, rng),
                f.timestamp,
            )
            for f in frames
        ]
        return to_signal_value(near)

    def other_spellings(self, value: str) -> list[str]:
        return [to_meta_text(parse_vpdq(value)), f"\n {value}\n"]

    def bad_values(self) -> list[str]:
        short_hash = '["' + "0" * 63 + ',100,0.000"]'
        bad_quality = '["' + "0" * 64 + ',101,0"]'
        return ["", "[]", "not a hash", short_hash, bad_quality]


class TestText(SignalTypeContract):
    TYPE = SIGNAL_TYPES["text"]

    def random_value(self, rng: random.Random) -> str:
        return placeholder_text(rng)

    def near_value(self, value: str, rng: random.Random) -> str:
        """The term among other words, exactly or with typos that straddle its
        edits, or other words altogether."""
        term = with_typos(value, rng.choice((0, 1, 1, 2, 3)), rng)
        if rng.random() < 0.15:
            return placeholder_text(rng)
        before, after = placeholder_text(rng, (0, 4)), placeholder_text(rng, (0, 4))
        return normalize(f"{before} {term} {after}")

    def other_spellings(self, value: str) -> list[str]:
        dotted = " ".join(".".join(word) for word in value.split(" "))
        return [value.upper(), f"  {value}!", dotted, value.replace(" ", " \u200b")]

    def bad_values(self) -> list[str]:
        return ["", "   ", "?!", "\u200b", "x" * 100_001]
