"""The exception a cancelled job raises: its own module, so that the job runner (``jobs``) and what a
job runs on (``cluster``) both raise and catch it without importing each other."""

from __future__ import annotations


class Cancelled(Exception):
    """Raised inside a job by ``ctx.check_cancelled()`` once cancel was asked."""
