"""Shared setup for the CLI's Python tests: import path of capsule_cli and
the repository root."""
import os
import shutil
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "capsule"))
CAPSULE = os.path.join(ROOT, "capsule")


class TempCacheTest(unittest.TestCase):
    """A test with its own scratch directory self.d and its own image cache
    (CAPSULE_CACHE inside it), both gone afterwards."""

    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.old_cache = os.environ.get("CAPSULE_CACHE")
        os.environ["CAPSULE_CACHE"] = os.path.join(self.d, "cache")

    def tearDown(self):
        if self.old_cache is None:
            os.environ.pop("CAPSULE_CACHE", None)
        else:
            os.environ["CAPSULE_CACHE"] = self.old_cache
        shutil.rmtree(self.d)
