"""The installed version of slidestream."""

__version__ = "0.1.0"
