"""Every test here runs through both paths to a notebook (tests/notebook_paths.py)."""

from tests.notebook_paths import portal, proxy_path

__all__ = ["portal", "proxy_path"]
