"""Why a sync could not go on (what was committed before it is kept)."""

from __future__ import annotations

from bastion.errors import BastionError


class ExchangeError(BastionError, RuntimeError):
    """A sync could not go on; what was committed before it is kept."""

    code = "exchange-error"
    status = 502


class ExchangeConfigError(ExchangeError, ValueError):
    """An exchange is set up wrongly (unknown API, bad URL, unusable credentials)."""

    code = "exchange-config"
    status = 400


class ExchangeAuthError(ExchangeError):
    """The list's owner refused the credentials."""

    code = "exchange-auth"


class ExchangeUnavailable(ExchangeError):
    """The server could not be reached, or kept failing, after every retry."""

    code = "exchange-unavailable"


class ExchangeProtocolError(ExchangeError):
    """The server answered something the API does not allow (a broken
    document after every retry, paging that never ends, an expired link)."""

    code = "exchange-protocol"
