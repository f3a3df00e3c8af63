"""The version of flowbuilder-example-plugin (single source, read by hatchling)."""

__version__ = "0.1.1"
