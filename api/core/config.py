"""API settings: the same pydantic-settings object as the library (one place, ``MINER_*``)."""

from miner.config import Settings, get_settings

__all__ = ["Settings", "get_settings"]
