"""Exchanges: banks that keep themselves in sync with the lists' owners.

``api`` (the Protocol every API implements and the errors), one module per
API (``ncmec``, ``stopncii``), ``http`` (retries), ``credentials`` (secrets
from files or the environment), ``registry`` (exchanges in the store),
``lease`` (one fetcher at a time) and ``sync`` (deltas applied with their
checkpoints).
"""
