"""The plain data of the workshop: exercise descriptions, their solutions and self-check results.

An `ExerciseSpec` is everything about an exercise that is known before its
sandbox starts: the ticket, the question, the multiple-choice options, the
hints and the `Solution`. A `Scenario` is what starting the sandbox adds: the
broken entry with the sandbox's ports, CA file and secrets, and the corrected
values that fix it. A `SelfCheck` is the verdict on one answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from toolkit.settings import ServerSettings

if TYPE_CHECKING:
    from toolkit.sandbox import Sandbox, Tenant


class Difficulty(StrEnum):
    """How much a learner needs to know before the exercise."""

    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class Verdict(StrEnum):
    """The outcome of a self-check."""

    NOT_ANSWERED = "not-answered"  # the placeholder answer is still in place
    UNCLEAR = "unclear"  # the answer has none of the accepted forms, so it is no attempt
    WRONG = "wrong"
    CORRECT = "correct"


@dataclass(frozen=True)
class Choice:
    """One multiple-choice option: its letter and its text."""

    letter: str
    text: str


@dataclass(frozen=True)
class ExerciseInfo:
    """A catalogue row: the exercise's number, key, title, topic, difficulty and duration."""

    number: int
    key: str
    title: str
    topic: str
    difficulty: Difficulty
    minutes: int

    @property
    def notebook(self) -> str:
        """The notebook's file name in ``notebooks/workshop/``: the number and the key."""
        return f"{self.number:02d}_{self.key.replace('-', '_')}.ipynb"

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain data for a table."""
        return {
            "number": self.number,
            "key": self.key,
            "title": self.title,
            "topic": self.topic,
            "difficulty": self.difficulty.value,
            "minutes": self.minutes,
            "notebook": self.notebook,
        }


@dataclass(frozen=True)
class Solution:
    """The expected diagnosis of an exercise, kept out of every printed form of the exercise.

    `choice` is the right option letter. `finding_ids` are the finding ids that
    name the fault, and the first one is the id the documented check shows. `fix` and
    `explanation` are shown when the answer is right or revealed. `feedback`
    maps a common wrong answer, normalized as `toolkit.workshop.answers` does
    (an option letter, a finding id or ``field=value``), to what the learner
    should hear about it. `setting_feedback` answers every other corrected
    setting, for faults that no field of the entry can fix.
    """

    choice: str
    finding_ids: tuple[str, ...]
    fix: str
    explanation: str
    feedback: Mapping[str, str] = field(default_factory=dict)
    setting_feedback: str = ""


@dataclass(frozen=True)
class Scenario:
    """The part of an exercise that its sandbox adds: the broken entry and the values that fix it.

    `entry` points at the sandbox and carries its CA file and secrets. `fixes`
    lists alternative corrections, each a mapping of field name to the corrected
    value. An answer is right when it changes exactly the fields of one
    alternative, to those values. `tenant_text` is the tenant file of a
    From-address exercise.
    """

    entry: ServerSettings
    fixes: tuple[Mapping[str, object], ...] = ()
    tenant_text: str | None = None


@dataclass(frozen=True)
class ExerciseSpec:
    """An exercise before its sandbox starts: texts, options, hints, solution and set-up.

    `tenant` returns the sandbox users the exercise needs, with fresh passwords.
    `build` derives the `Scenario` from the running sandbox. `authority` starts
    the sandbox's OAuth2 authority, which only the OAuth2 and Microsoft 365
    exercises need.
    """

    info: ExerciseInfo
    ticket: str
    question: str
    choices: tuple[Choice, ...]
    hints: tuple[str, ...]
    solution: Solution = field(repr=False)
    tenant: Callable[[], Tenant] = field(repr=False)
    build: Callable[[Sandbox], Scenario] = field(repr=False)
    authority: bool = False

    def choice(self, letter: str) -> Choice | None:
        """Return the option with this letter, or None."""
        for choice in self.choices:
            if choice.letter == letter:
                return choice
        return None


@dataclass(frozen=True)
class SelfCheck:
    """The verdict on one answer, in words for the learner.

    `message` states what was understood and whether it is right. `hint` is set
    after the first wrong answer. `solution` is set when the answer is right, or
    after a second different wrong answer: then it contains the right option,
    the finding id, the fix and the reason.
    """

    verdict: Verdict
    message: str
    hint: str = ""
    solution: str = ""
    wrong_attempts: int = 0

    @property
    def correct(self) -> bool:
        """True when the answer is right."""
        return self.verdict is Verdict.CORRECT

    @property
    def answer_revealed(self) -> bool:
        """True when the result contains the expected diagnosis."""
        return bool(self.solution)

    def __str__(self) -> str:
        lines = [f"Self-check: {self.message}"]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        if self.solution:
            lines.append(self.solution)
        return "\n".join(lines)
