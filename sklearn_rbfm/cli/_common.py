"""Pieces shared by the sub-commands: errors, progress reporting, versions."""

import sys
import time

# re-exported: the versions are the library's (sklearn_rbfm.persistence)
from ..persistence import TRACKED_DISTRIBUTIONS, installed_versions  # noqa: F401


class CommandError(Exception):
    """A problem with the user's command or data, reported without a traceback."""


class Progress:
    """Print one line per stage with its duration, and keep the durations.

    Lines go to ``stream`` (standard error by default) so that standard
    output stays clean for results.
    """

    def __init__(self, stream=None):
        self.stream = stream
        self.timings = {}
        self._started = time.perf_counter()

    def say(self, message):
        print(f"[{time.perf_counter() - self._started:7.1f} s] {message}",
              file=self.stream or sys.stderr, flush=True)

    def stage(self, name, message=None):
        return _Stage(self, name, message or name)


class _Stage:
    def __init__(self, progress, name, message):
        self.progress, self.name, self.message = progress, name, message

    def __enter__(self):
        self.progress.say(f"{self.message} ...")
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        elapsed = time.perf_counter() - self._t0
        if exc_type is None:
            self.progress.timings[self.name] = (
                self.progress.timings.get(self.name, 0.0) + elapsed
            )
            self.progress.say(f"{self.message}: done in {elapsed:.1f} s")
        return False
