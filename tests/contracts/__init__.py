"""Contract tests every implementation of an extension point subclasses."""
