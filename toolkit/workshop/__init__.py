"""Workshop exercises on the sandbox: a ticket, one broken setting, and a self-check.

Each exercise starts a sandbox of its own with the users it needs, on free
ports, and hands the learner the broken settings entry::

    from toolkit.workshop import start_exercise

    exercise = start_exercise("tls-tick-on-starttls-port")
    exercise.entry           # the broken entry, pointing at the sandbox, with its secrets
    exercise.ticket, exercise.question, exercise.choices, exercise.hints
    print(exercise.check("b"))   # an option letter, a finding id, or {"tls": False}
    exercise.stop()

`exercises()` lists the catalogue. The modules:

- `model`: the exercise descriptions, solutions and self-check results;
- `answers`: the accepted forms of an answer and their normalization;
- `exercise`: `start_exercise`, `Exercise` and the self-check;
- `tls_exercises`, `login_exercises`, `mailbox_exercises`: the exercises by topic;
- `scenarios`: the sandbox set-up they share;
- `notebooks`: writes the exercise notebooks from the specs
  (``python -m toolkit.workshop.notebooks notebooks/workshop``).
"""

from toolkit.workshop.exercise import Exercise, exercises, start_exercise
from toolkit.workshop.model import Choice, Difficulty, ExerciseInfo, SelfCheck, Verdict

__all__ = [
    "Choice",
    "Difficulty",
    "Exercise",
    "ExerciseInfo",
    "SelfCheck",
    "Verdict",
    "exercises",
    "start_exercise",
]
