"""The single source of flowbuilder-core's version (read by hatchling at build time)."""

__version__ = "0.2.0"
