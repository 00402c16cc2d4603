"""Every evidence reader meets the EvidenceReader contract."""

from __future__ import annotations

from bastion.provenance.readers import (
    C2paReader,
    ExifReader,
    GeneratorReader,
    StealthGeneratorReader,
    WatermarkReader,
    XmpReader,
)
from tests.contracts.evidence_reader import EvidenceReaderContract


class TestC2pa(EvidenceReaderContract):
    READER = C2paReader()


class TestXmp(EvidenceReaderContract):
    READER = XmpReader()


class TestExif(EvidenceReaderContract):
    READER = ExifReader()


class TestGenerators(EvidenceReaderContract):
    READER = GeneratorReader()


class TestStealthGenerators(EvidenceReaderContract):
    READER = StealthGeneratorReader()


class TestWatermarks(EvidenceReaderContract):
    READER = WatermarkReader()
