"""Atomic file writes: every target appears complete or not at all."""
