"""The errors reports raise: what the caller asked that cannot be done, and
what the CyberTipline answered."""

from __future__ import annotations

from bastion.errors import BastionError


class ReportError(BastionError, ValueError):
    """A report that cannot be made or sent as asked (an item not confirmed,
    no reporter set, items of different uploaders in one report)."""

    code = "report-error"
    status = 400


class ReportNotFound(ReportError):
    code = "report-not-found"
    status = 404


class ReportForbidden(ReportError):
    code = "report-forbidden"
    status = 403


class CyberTipError(BastionError, RuntimeError):
    """The CyberTipline did not do what a step asked."""

    code = "cybertip-error"
    status = 502


class CyberTipRefused(CyberTipError):
    """A permanent refusal (a validation error, an unknown report): sending
    the same again would be refused again."""

    code = "cybertip-refused"
    status = 502

    def __init__(self, message: str, response_code: int | None = None) -> None:
        super().__init__(message)
        self.response_code = response_code


class CyberTipUnavailable(CyberTipError):
    """Server errors or no connection, after every retry: the report keeps the
    step it reached and resumes from there (``bastion report resume``)."""

    code = "cybertip-unavailable"
    status = 503
