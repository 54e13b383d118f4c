"""A running exercise: its sandbox, the broken entry, and the self-check of the learner's answer.

`start_exercise` starts a sandbox with the exercise's users on free ports and
builds the broken entry against it. `Exercise.check` grades an answer. It gives
a hint after the first wrong answer and the expected diagnosis only after a
second, different wrong answer, so that re-running a cell with the same wrong
answer never gives the solution away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from toolkit.probe.results import Timeouts
from toolkit.sandbox import Sandbox
from toolkit.settings import ServerSettings
from toolkit.workshop.answers import Answer, AnswerKind, normalize_fix, read_answer
from toolkit.workshop.catalogue import SPECS
from toolkit.workshop.model import (
    Choice,
    ExerciseInfo,
    ExerciseSpec,
    Scenario,
    SelfCheck,
    Verdict,
)
from toolkit.workshop.scenarios import environment_of

_log = logging.getLogger(__name__)

# Short limits for the sandbox on 127.0.0.1, so that a probe of a mode the port does
# not speak costs about two seconds, not the default five.
WORKSHOP_TIMEOUTS = Timeouts(connect=3, greeting=2, handshake=3, read=3)
# The sandbox authority's tokens are valid for 3600 s, so the environment renews them halfway.
TOKEN_RENEW_SECONDS = 1800
# Distinct wrong answers after which the self-check shows the expected diagnosis.
REVEAL_AFTER = 2
# The running exercise of each key in this process, so that running a notebook's first
# cell again stops the sandbox it started before instead of leaving it running.
_running: dict[str, Exercise] = {}


def exercises() -> list[ExerciseInfo]:
    """Return the catalogue: every exercise's number, key, title, topic, difficulty and minutes."""
    return [spec.info for spec in SPECS]


def start_exercise(key: str) -> Exercise:
    """Start the sandbox scenario of the exercise `key` and return the running exercise.

    An exercise of the same key that this process started earlier and did not
    stop is stopped first. Raises KeyError, naming the known keys, for an unknown
    key. Stop the exercise with `Exercise.stop`, or use it as a context manager.
    """
    spec = _spec(key)
    earlier = _running.pop(key, None)
    if earlier is not None:
        _log.info("stopping the earlier run of workshop exercise %s", key)
        earlier.stop()
    sandbox = Sandbox(port_base=0, tenant=spec.tenant(), authority=spec.authority)
    sandbox.start()
    try:
        scenario = spec.build(sandbox)
    except BaseException:
        sandbox.stop()
        raise
    _log.info("workshop exercise %s started on %s", spec.info.key, sandbox.host)
    exercise = Exercise(spec, sandbox, scenario)
    _running[key] = exercise
    return exercise


class Exercise:
    """One started exercise: the ticket, the broken entry on the sandbox, the hints, the self-check.

    `entry` is the broken settings entry. It points at the sandbox and carries
    the sandbox CA file and its secrets, so toolkit checks run on it unchanged.
    `tenant_text` is the tenant file of a From-address exercise, else None.
    """

    def __init__(self, spec: ExerciseSpec, sandbox: Sandbox, scenario: Scenario) -> None:
        self.spec = spec
        self.sandbox = sandbox
        self.entry: ServerSettings = scenario.entry
        self.tenant_text = scenario.tenant_text
        self.timeouts = WORKSHOP_TIMEOUTS
        self._fixes = [normalize_fix(fix) for fix in scenario.fixes]
        self._wrong: list[str] = []
        self._hints_shown = 0
        self._environment: dict[str, str] | None = None
        self._environment_since = 0.0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Exercise({self.key!r}, {state}, entry={self.entry.name!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def info(self) -> ExerciseInfo:
        """The catalogue row of this exercise."""
        return self.spec.info

    @property
    def key(self) -> str:
        """The exercise's key, such as ``tls-tick-on-starttls-port``."""
        return self.spec.info.key

    @property
    def title(self) -> str:
        """The exercise's title."""
        return self.spec.info.title

    @property
    def ticket(self) -> str:
        """The customer's ticket, as the learner receives it."""
        return self.spec.ticket

    @property
    def question(self) -> str:
        """The question the learner answers."""
        return self.spec.question

    @property
    def choices(self) -> tuple[Choice, ...]:
        """The multiple-choice options."""
        return self.spec.choices

    @property
    def hints(self) -> tuple[str, ...]:
        """The hints, from general to specific. None of them states the answer."""
        return self.spec.hints

    @property
    def running(self) -> bool:
        """True until `stop` is called."""
        return self.sandbox.running

    def environment(self) -> dict[str, str]:
        """Return the variables that `tenant_text` names, with their sandbox-only secrets.

        The OAuth2 tokens among them are valid for one hour. The same values are
        returned until half of that has passed, then new tokens. An exercise
        without a tenant file returns an empty mapping.
        """
        if self.tenant_text is None:
            return {}
        now = time.monotonic()
        if self._environment is None or now - self._environment_since > TOKEN_RENEW_SECONDS:
            self._environment = environment_of(self.sandbox)
            self._environment_since = now
        return dict(self._environment)

    def hint(self) -> str:
        """Return the next hint, and the last one again once all were shown."""
        hint = self.hints[min(self._hints_shown, len(self.hints) - 1)]
        self._hints_shown += 1
        return hint

    def check(self, answer: object) -> SelfCheck:
        """Grade the learner's answer, in one of the forms `toolkit.workshop.answers` reads.

        A placeholder answer gives ``not-answered`` and an unreadable one
        ``unclear``, and neither counts as an attempt. The first wrong answer gets a
        hint. A second, different wrong answer gets the expected diagnosis.
        """
        read = read_answer(answer, self.entry, [choice.letter for choice in self.choices])
        if read.kind is AnswerKind.NONE:
            return SelfCheck(
                Verdict.NOT_ANSWERED,
                'not answered yet. Write your diagnosis into answer in place of "?": an '
                'option letter such as "b", the finding id that names the fault, or the '
                'corrected setting such as {"tls": False}. Then run the cell again.',
                wrong_attempts=len(self._wrong),
            )
        if read.kind is AnswerKind.UNCLEAR:
            return SelfCheck(Verdict.UNCLEAR, f"the answer cannot be read: {read.problem}.",
                             wrong_attempts=len(self._wrong))
        if self._is_right(read):
            return SelfCheck(Verdict.CORRECT, f"right: {self._described(read)}",
                             solution=self._solution_text(), wrong_attempts=len(self._wrong))

        if read.key not in self._wrong:
            self._wrong.append(read.key)
        feedback = self.spec.solution.feedback.get(read.key) or self._generic_feedback(read)
        if len(self._wrong) >= REVEAL_AFTER:
            return SelfCheck(Verdict.WRONG, f"not right. {feedback}",
                             solution=self._solution_text(), wrong_attempts=len(self._wrong))
        hint = self.hints[0]
        self._hints_shown = max(self._hints_shown, 1)
        return SelfCheck(Verdict.WRONG, f"not right yet. {feedback}", hint=hint,
                         wrong_attempts=len(self._wrong))

    def stop(self) -> None:
        """Stop the exercise's sandbox: its listeners, connections, thread and temporary folder."""
        if _running.get(self.key) is self:
            del _running[self.key]
        self.sandbox.stop()

    def _is_right(self, answer: Answer) -> bool:
        solution = self.spec.solution
        if answer.kind is AnswerKind.CHOICE:
            return answer.key == solution.choice
        if answer.kind is AnswerKind.FINDING:
            return answer.key in solution.finding_ids
        return dict(answer.changes) in self._fixes

    def _described(self, answer: Answer) -> str:
        if answer.kind is AnswerKind.CHOICE:
            return f"option ({answer.key})."
        if answer.kind is AnswerKind.FINDING:
            return f"{answer.key} names the fault."
        return f"{answer.key} fixes the entry."

    def _generic_feedback(self, answer: Answer) -> str:
        if answer.kind is AnswerKind.CHOICE:
            return f"Option ({answer.key}) does not explain what the toolkit shows."
        if answer.kind is AnswerKind.FINDING:
            return f"{answer.key} is not the finding that names this fault."
        generic = f"Changing {answer.key} does not fix the entry."
        return self.spec.solution.setting_feedback or generic

    def _solution_text(self) -> str:
        solution = self.spec.solution
        choice = self.spec.choice(solution.choice)
        lines = [
            f"Diagnosis: ({solution.choice}) {choice.text if choice else ''}".rstrip(),
            f"Finding id: {solution.finding_ids[0]}",
            f"Fix: {solution.fix}",
            f"Why: {solution.explanation}",
        ]
        return "\n".join(lines)


def _spec(key: str) -> ExerciseSpec:
    for spec in SPECS:
        if spec.info.key == key:
            return spec
    raise KeyError(f"no workshop exercise {key!r}; the keys are: {_keys(SPECS)}")


def _keys(specs: Sequence[ExerciseSpec]) -> str:
    return ", ".join(spec.info.key for spec in specs)
