"""Where a link puts a visitor in a lesson (`bnviz.classroom`), without Streamlit."""

import pytest

from bnviz.classroom import LessonLink, Role, hidden_fields, place, read_step
from bnviz.config import ExperimentConfig, field_names
from bnviz.lessons import lesson
from bnviz.link import read_link
from bnviz.rooms import FileRoomStore

LESSON = lesson("batch-norm")


@pytest.fixture
def rooms(tmp_path):
    return FileRoomStore(tmp_path / "rooms")


@pytest.mark.parametrize(("text", "index", "problem"), [
    (None, 0, None), ("", 0, None), ("1", 0, None), ("8", 7, None), (" 3 ", 2, None),
    ("0", 0, "is not a step of this lesson (1 to 8)"), ("9", 0, "is not a step"),
    ("two", 0, "is not a step number"), ("1e3", 0, "is not a step number"),
])
def test_a_links_step_counts_from_one_and_a_bad_one_means_step_one(text, index, problem):
    found, said = read_step(text, len(LESSON.steps))
    assert found == index
    assert (said is None) == (problem is None) and (problem is None or problem in said)


def test_a_self_paced_link_places_the_visitor_at_its_step(rooms):
    found, problems = place(LessonLink(lesson="batch-norm", step="3"), rooms)
    assert problems == [] and found.role is Role.SELF_PACED
    assert found.step == LESSON.steps[2] and found.number == 3 and found.room is None
    assert set(found.hidden) == set(field_names()) - set(found.step.editable)


def test_only_the_steps_editable_settings_are_heard_from_the_link(rooms):
    found, _ = place(LessonLink(lesson="batch-norm"), rooms)
    reading = read_link({"lesson": ["batch-norm"], "epochs": ["5"], "seed": ["9"]})
    config = found.config(reading.config, reading.given)
    own = found.step.config()
    assert config.epochs == own.epochs
    assert config.seed == (9 if "seed" in found.step.editable else own.seed)


def test_a_question_hides_the_result_until_answered_or_revealed(rooms):
    found, _ = place(LessonLink(lesson="batch-norm"), rooms)
    assert found.step.question is not None
    assert not found.revealed(answered=False) and found.revealed(answered=True)
    room, key = rooms.open_room("batch-norm", len(LESSON.steps))
    student, _ = place(LessonLink(room=room.code), rooms)
    assert student.role is Role.STUDENT and not student.revealed(answered=True)
    rooms.reveal(room.code, key)
    teacher, problems = place(LessonLink(room=room.code, key=key), rooms)
    assert teacher.role is Role.TEACHER and teacher.revealed(answered=False) and not problems


def test_a_wrong_key_is_a_student_and_an_ended_class_is_the_normal_page(rooms):
    room, key = rooms.open_room("batch-norm", len(LESSON.steps))
    found, problems = place(LessonLink(room=room.code, key="guess"), rooms)
    assert found.role is Role.STUDENT and "as a student" in problems[0]
    rooms.end(room.code, key)
    found, problems = place(LessonLink(room=room.code), rooms)
    assert found is None and "has ended" in problems[0]


@pytest.mark.parametrize("link", [LessonLink(lesson="nope"), LessonLink(lesson="../x"),
                                  LessonLink(room="ZZZZZ"), LessonLink(room="<b>")])
def test_a_bad_lesson_or_room_is_a_message_and_no_place(rooms, link):
    found, problems = place(link, rooms)
    assert found is None and len(problems) == 1 and problems[0]


def test_hide_keeps_known_settings_once_and_reports_the_rest():
    reading = read_link({"hide": ["seed, Seed,bogus,batch_size"]})
    assert hidden_fields(reading.lesson) == (("seed", "batch_size"), [])
    assert [p.value for p in reading.problems] == ["bogus"]
    assert reading.config == ExperimentConfig()  # hide is no setting


def test_in_a_class_the_links_settings_count_only_for_the_step_they_were_written_at(rooms):
    room, key = rooms.open_room("batch-norm", len(LESSON.steps))
    editable = next(i for i, step in enumerate(LESSON.steps) if "normalization" in step.editable)
    rooms.move(room.code, key, editable)
    reading = read_link({"room": [room.code], "normalization": ["layer"],
                         "step": [str(editable + 1)]})
    found, _ = place(reading.lesson, rooms)
    assert found.config(reading.config, reading.given, reading.lesson.step).normalization \
        == "layer"
    rooms.move(room.code, key, editable + 1)  # the teacher moves on: the link's is left behind
    found, _ = place(reading.lesson, rooms)
    assert found.config(reading.config, reading.given, reading.lesson.step) \
        == found.step.config()
