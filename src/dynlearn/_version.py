"""The version of dynlearn (single source, read by hatchling and `dynlearn --version`)."""

__version__ = "0.1.0"
