"""A loopback fake of NCMEC's CyberTipline reporting API, and the schema it checks."""

from tests.reports.fakes.cybertip import FakeCyberTipline, FakeFile, FakeReport

__all__ = ["FakeCyberTipline", "FakeFile", "FakeReport"]
