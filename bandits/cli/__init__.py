"""The face of the toolkit: the ``bandits`` command (typer), its wiring from names, TOML
configs and run manifests. The only part of the kernel that imports ``simulator`` and
``policies``."""

from bandits.cli.commands import app, main

__all__ = ["app", "main"]
