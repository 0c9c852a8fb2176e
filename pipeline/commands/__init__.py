"""Subcommands of ``music-tracker`` that belong to one feature each (see cli.COMMAND_MODULES)."""
