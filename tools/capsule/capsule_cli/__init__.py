"""The `capsule` command line (host side)."""
