"""Stores that ship with core (only ``memory://``; durable ones come from flowbuilder-storage)."""
