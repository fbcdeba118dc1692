"""The command line: the only layer that prints, prompts or reads a terminal."""

from protest_dispatch.cli.app import app, main

__all__ = ["app", "main"]
