"""Shared setup for the CLI's Python tests: import path of capsule_cli and
the repository root."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "capsule"))
CAPSULE = os.path.join(ROOT, "capsule")
