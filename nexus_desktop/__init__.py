"""Nexus Desktop: a private AI companion that keeps one lifelong conversation with its user."""

__version__ = "0.1.0"
