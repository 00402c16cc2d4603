"""Fuzz targets for the parsers that read untrusted bytes (``make fuzz``)."""
