"""The self-check of each exercise: right answers pass, wrong ones get a hint, then the solution."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from toolkit.workshop import Exercise, Verdict, start_exercise
from toolkit.workshop.answers import FIELDS, FINDING_ID, read_answer
from toolkit.workshop.catalogue import SPECS
from toolkit.workshop.model import ExerciseSpec

KEYS = [spec.info.key for spec in SPECS]


@pytest.fixture(params=SPECS, ids=lambda spec: spec.info.key)
def exercise(request: pytest.FixtureRequest) -> Iterator[Exercise]:
    """A freshly started exercise of each key, stopped after the test."""
    with start_exercise(request.param.info.key) as started:
        yield started


def wrong_letters(spec: ExerciseSpec) -> list[str]:
    return [choice.letter for choice in spec.choices if choice.letter != spec.solution.choice]


def test_right_choice_is_accepted(exercise: Exercise) -> None:
    result = exercise.check(exercise.spec.solution.choice.upper())
    assert result.verdict is Verdict.CORRECT
    assert result.answer_revealed


def test_fault_finding_ids_are_accepted(exercise: Exercise) -> None:
    for finding_id in exercise.spec.solution.finding_ids:
        assert exercise.check(finding_id).correct, finding_id


def test_first_wrong_answer_gets_hint_only(exercise: Exercise) -> None:
    spec = exercise.spec
    result = exercise.check(wrong_letters(spec)[0])
    text = str(result)
    right = spec.choice(spec.solution.choice)
    assert right is not None
    assert result.verdict is Verdict.WRONG
    assert result.hint == spec.hints[0]
    assert not result.answer_revealed
    assert right.text not in text
    assert spec.solution.fix not in text
    assert spec.solution.finding_ids[0] not in text


def test_same_wrong_answer_twice_reveals_nothing(exercise: Exercise) -> None:
    letter = wrong_letters(exercise.spec)[0]
    exercise.check(letter)
    result = exercise.check(letter.upper())
    assert result.verdict is Verdict.WRONG
    assert result.wrong_attempts == 1
    assert not result.answer_revealed


def test_second_different_wrong_answer_reveals_solution(exercise: Exercise) -> None:
    spec = exercise.spec
    first, second = wrong_letters(spec)[:2]
    exercise.check(first)
    result = exercise.check(second)
    assert result.verdict is Verdict.WRONG
    assert result.wrong_attempts == 2
    assert result.answer_revealed
    assert f"({spec.solution.choice})" in result.solution
    assert spec.solution.finding_ids[0] in result.solution
    assert spec.solution.fix in result.solution


def test_placeholder_is_not_counted(exercise: Exercise) -> None:
    for placeholder in ("?", "", None, ...):
        result = exercise.check(placeholder)
        assert result.verdict is Verdict.NOT_ANSWERED
        assert "not answered yet" in str(result)
    assert exercise.check(wrong_letters(exercise.spec)[0]).wrong_attempts == 1


def test_unreadable_answers_are_not_counted(exercise: Exercise) -> None:
    for unreadable in ("z", "untick the box", 2, {"colour": "blue"}, {"port": "abc"}):
        assert exercise.check(unreadable).verdict is Verdict.UNCLEAR
    letter = wrong_letters(exercise.spec)[0]
    assert not exercise.check(letter).answer_revealed


def test_hints_hide_finding_id() -> None:
    for spec in SPECS:
        finding_id = spec.solution.finding_ids[0]
        texts = [*spec.hints, *spec.solution.feedback.values(), spec.solution.setting_feedback]
        assert not [text for text in texts if finding_id in text], spec.info.key


def test_every_wrong_choice_has_feedback() -> None:
    for spec in SPECS:
        missing = [letter for letter in wrong_letters(spec) if letter not in spec.solution.feedback]
        assert missing == [], spec.info.key


def test_feedback_keys_are_readable_wrong_answers() -> None:
    for spec in SPECS:
        letters = [choice.letter for choice in spec.choices]
        for key in spec.solution.feedback:
            assert key != spec.solution.choice, spec.info.key
            assert key not in spec.solution.finding_ids, spec.info.key
            if "=" in key:
                assert key.partition("=")[0] in FIELDS, (spec.info.key, key)
            elif len(key) == 1:
                assert key in letters, (spec.info.key, key)
            else:
                assert FINDING_ID.match(key), (spec.info.key, key)


def test_setting_feedback_keys_are_reachable() -> None:
    for spec in SPECS:
        keys = [key for key in spec.solution.feedback if "=" in key]
        if not keys:
            continue
        with start_exercise(spec.info.key) as exercise:
            letters = [choice.letter for choice in spec.choices]
            read = [read_answer(key, exercise.entry, letters) for key in keys]
        assert [answer.key for answer in read] == keys, spec.info.key


def test_known_wrong_setting_gets_its_feedback() -> None:
    with start_exercise("folder-letter-case") as exercise:
        result = exercise.check({"storage_folder": "Sent"})
    assert result.verdict is Verdict.WRONG
    assert "sent folder" in result.message


def test_right_setting_in_text_and_entry_forms() -> None:
    with start_exercise("folder-delimiter") as exercise:
        as_text = exercise.check("storage_folder = INBOX.Support")
        as_entry = exercise.check(
            dataclasses.replace(exercise.entry, storage_folder="INBOX.Support")
        )
    assert as_text.correct
    assert as_entry.correct


def test_unchanged_setting_is_unclear() -> None:
    with start_exercise("tls-tick-on-starttls-port") as exercise:
        result = exercise.check({"tls": True})
    assert result.verdict is Verdict.UNCLEAR
    assert "as the ticket has them" in result.message


def test_extra_changed_field_makes_fix_wrong() -> None:
    with start_exercise("tls-tick-on-starttls-port") as exercise:
        port = exercise.sandbox.endpoint("smtp-tls").port
        result = exercise.check({"tls": False, "port": port})
    assert result.verdict is Verdict.WRONG


def test_secret_answer_is_not_echoed() -> None:
    with start_exercise("gmail-account-password") as exercise:
        result = exercise.check({"password": "abcdabcdabcdabcd"})
        free_text = exercise.check("my password is Hunter2-secret")
    assert result.verdict is Verdict.UNCLEAR
    assert "abcdabcdabcdabcd" not in str(result)
    assert free_text.verdict is Verdict.UNCLEAR
    assert "Hunter2" not in str(free_text)


def test_hint_method_steps_through_hints() -> None:
    with start_exercise("oauth-graph-token") as exercise:
        given = [exercise.hint() for _ in range(len(exercise.hints) + 1)]
    assert given[:-1] == list(exercise.hints)
    assert given[-1] == exercise.hints[-1]


def test_unknown_key_names_known_keys() -> None:
    with pytest.raises(KeyError, match="tls-tick-on-starttls-port"):
        start_exercise("no-such-exercise")


def test_repr_hides_solution() -> None:
    with start_exercise("certificate-expired") as exercise:
        printed = repr(exercise) + repr(exercise.spec)
        solution = exercise.spec.solution
    assert "certificate-expired" in printed
    assert "Solution(" not in printed
    assert solution.fix not in printed
    assert solution.explanation not in printed
