"""Loopback fakes of the hash exchanges Bastion syncs from, with injectable faults."""

from tests.exchanges.fakes.http import RequestLog
from tests.exchanges.fakes.ncmec import FakeNcmec
from tests.exchanges.fakes.stopncii import FakeStopNcii

__all__ = ["FakeNcmec", "FakeStopNcii", "RequestLog"]
