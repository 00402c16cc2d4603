"""Bastion's version, from the installed package's metadata.

Its own module, at the bottom of the layers, so that a results file, a
report or a manifest can name the version without importing the package's
facade (``bastion``), which reaches every layer.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bastion")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"
