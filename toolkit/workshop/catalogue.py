"""The catalogue of workshop exercises, in the order of their numbers and notebooks."""

from __future__ import annotations

from toolkit.workshop import login_exercises, mailbox_exercises, tls_exercises
from toolkit.workshop.model import ExerciseSpec

SPECS: tuple[ExerciseSpec, ...] = (
    *tls_exercises.SPECS,
    *login_exercises.SPECS,
    *mailbox_exercises.SPECS,
)
