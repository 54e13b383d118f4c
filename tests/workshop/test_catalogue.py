"""The catalogue: numbering, keys, the topics the workshop must cover, and the trainer guide."""

from __future__ import annotations

from pathlib import Path

from toolkit.workshop import Difficulty, exercises
from toolkit.workshop.catalogue import SPECS

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "trainer-guide.md"
# Every topic of the workshop with the number of exercises it needs at least.
REQUIRED_TOPICS = {
    "TLS tick": 2,
    "certificates": 3,
    "Basic login": 2,
    "OAuth2 login": 1,
    "OAuth scope and audience": 2,
    "storage folder": 4,
    "From address": 2,
}


def test_catalogue_is_numbered_from_one() -> None:
    numbers = [info.number for info in exercises()]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 12


def test_keys_are_unique_and_readable() -> None:
    keys = [info.key for info in exercises()]
    assert len(set(keys)) == len(keys)
    assert all(key == key.lower() and " " not in key for key in keys)


def test_topics_cover_workshop() -> None:
    topics = [info.topic for info in exercises()]
    for topic, need in REQUIRED_TOPICS.items():
        assert topics.count(topic) >= need, topic
    assert set(topics) <= set(REQUIRED_TOPICS)


def test_rows_have_difficulty_and_minutes() -> None:
    for info in exercises():
        row = info.to_dict()
        assert row["difficulty"] in {d.value for d in Difficulty}
        assert 5 <= row["minutes"] <= 30
        assert row["notebook"].startswith(f"{info.number:02d}_")


def test_specs_have_four_choices_and_two_hints() -> None:
    for spec in SPECS:
        assert [choice.letter for choice in spec.choices] == ["a", "b", "c", "d"], spec.info.key
        assert len(spec.hints) >= 2, spec.info.key
        assert spec.choice(spec.solution.choice) is not None, spec.info.key


def test_right_letters_vary() -> None:
    letters = [spec.solution.choice for spec in SPECS]
    assert all(letters.count(letter) <= len(letters) // 2 for letter in "abcd")


def test_trainer_guide_covers_every_exercise() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    for spec in SPECS:
        assert f"{spec.info.number:02d}. {spec.info.title}" in guide, spec.info.key
        assert f"`{spec.info.key}`" in guide, spec.info.key
        assert f"`{spec.solution.finding_ids[0]}`" in guide, spec.info.key
