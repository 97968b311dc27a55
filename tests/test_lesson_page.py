"""Lessons on the page (AppTest): a self-paced lesson, links that hide controls, a live class
with a teacher and students, and bad lesson links. Every step is served from the gallery."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from bnviz.lessons import READERS, lesson
from bnviz.page import Body
from tests.helpers import page

LESSON = lesson("batch-norm")


def _view(at: AppTest):
    return at.session_state["view"]


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _answer(at: AppTest, choice: int) -> AppTest:
    at.radio[0].set_value(choice)
    _button(at, "Answer").click().run()
    assert not at.exception, at.exception
    return at


def test_a_self_paced_lesson_asks_first_then_reveals_and_moves_on(in_process_page):
    at = page(lesson="batch-norm")
    at.run()
    assert not at.exception
    assert any(c.value.startswith("Lesson: **Batch norm in one lesson** · step 1 of 8")
               for c in at.caption)
    assert at.main.header[0].value == LESSON.steps[0].title
    question = LESSON.steps[0].question
    assert at.radio[0].label == question.prompt
    assert not at.tabs  # the result waits for the prediction
    assert not at.sidebar.get("pills")  # no presets inside a lesson
    _answer(at, 0)
    assert at.tabs and at.session_state["section"] == LESSON.steps[0].tab
    assert _view(at).body == Body.RESULT
    # The reveal says what the run shows, as the reader reads the very result shown.
    facts = READERS[question.reader].read(_view(at).result).facts
    assert any(s.value.startswith(facts) and "Your answer, “The BN model”" in s.value
               for s in at.success)
    _button(at, "Next").click().run()
    assert at.query_params["lesson"] == "batch-norm" and at.query_params["step"] == "2"
    assert at.main.header[0].value == LESSON.steps[1].title
    assert not at.tabs  # a new question, a new prediction


def test_inside_a_lesson_the_link_cannot_change_a_hidden_setting(in_process_page):
    at = page(lesson="batch-norm", step="1", epochs="5", seed="4")
    at.run()
    assert not at.exception
    editable = LESSON.steps[0].editable
    shown = {w.key.removeprefix("setting_") for kind in ("slider", "number_input", "toggle",
                                                         "selectbox", "segmented_control")
             for w in at.sidebar.get(kind)}
    assert shown == set(editable)
    _answer(at, 1)
    config = _view(at).result.config
    assert config.epochs == LESSON.steps[0].config().epochs  # epochs=5 is not heard
    assert config.seed == (4 if "seed" in editable else LESSON.steps[0].config().seed)


@pytest.mark.parametrize(("query", "warning"), [
    ({"lesson": "no-such-lesson"}, "there is no lesson 'no-such-lesson'"),
    ({"lesson": "../../etc/passwd"}, "is not a lesson name"),
    ({"lesson": "batch-norm", "step": "99"}, "is not a step of this lesson (1 to 8)"),
    ({"lesson": "batch-norm", "step": "two"}, "is not a step number"),
    ({"room": "K7QXZ"}, "K7QXZ"),
    ({"room": "../x"}, "class code"),
])
def test_bad_lesson_links_get_a_plain_message_and_the_page(in_process_page, query, warning):
    at = page(**query)
    at.run()
    assert not at.exception
    shown = [w.value.replace("\\", "") for w in at.warning]  # link text shown escaped
    assert any(warning in text for text in shown), shown
    assert at.title  # the page itself is there


def test_a_link_can_hide_controls_and_share_this_view_builds_one(in_process_page):
    at = page(hide="seed,batch_size,bogus", epochs="20")
    at.run()
    assert not at.exception
    keys = {w.key for kind in ("slider", "number_input") for w in at.sidebar.get(kind)}
    assert "setting_seed" not in keys and "setting_batch_size" not in keys
    assert "setting_epochs" in keys
    assert not at.sidebar.get("pills")  # presets would change the hidden settings
    assert any("`bogus`" in w.value and "no setting" in w.value for w in at.warning)
    # Train keeps the hidden values the link gave (here their defaults) and the link keeps hide.
    shared = page(epochs="20")
    shared.run()
    assert not shared.sidebar.code  # drawn only once opened (its script is large)
    shared.session_state["share_view"] = True
    shared.run()
    shared.sidebar.multiselect[0].set_value(["seed"]).run()
    link = next(c.value for c in shared.sidebar.code)
    assert "hide=seed" in link and "epochs=20" in link


def test_a_live_class_follows_its_teacher(in_process_page):
    teacher = page(lesson="batch-norm", teach="1")
    teacher.run()
    assert not teacher.exception
    code, key = teacher.query_params["room"], teacher.query_params["key"]
    assert "lesson" not in teacher.query_params  # the teacher's link is the room's
    teacher.run()
    assert any(h.value == f"Class {code}" for h in teacher.sidebar.header)
    assert any("QR code of the students' link" in m.value for m in teacher.sidebar.markdown)

    students = [page(room=code.lower()) for _ in range(3)]
    for student in students:
        student.run()
        assert not student.exception
        assert student.main.header[0].value == LESSON.steps[0].title
        assert not student.tabs
    for student, choice in zip(students, (0, 0, 1), strict=True):
        _answer(student, choice)
        assert any("You may change it until your teacher reveals" in i.value
                   for i in student.info)
        assert not student.tabs  # still hidden: the teacher reveals
    teacher.run()
    assert any(m.label == "Answered" and m.value == "3 of 3" for m in teacher.metric)
    # A student who reloads (a new session on the student's own link) is the same student.
    reloaded = page(room=code, me=students[2].query_params["me"])
    reloaded.run()
    _answer(reloaded, 1)
    teacher.run()
    assert any(m.label == "Answered" and m.value == "3 of 3" for m in teacher.metric)

    _button(teacher, "Reveal").click().run()
    assert not teacher.exception and teacher.tabs
    for student in students:
        student.run()
        assert student.tabs
        assert any(c.value.startswith("The class's answers: The BN model, 2; The baseline, 1")
                   for c in student.caption)
    # The tally's chart as a table, one click away (what a screen reader reads cell by cell).
    students[0].session_state[f"tally_{code.upper()}_0_data"] = True
    students[0].run()
    tally = next(d.value for d in students[0].dataframe if "students" in d.value.columns)
    assert dict(zip(tally["answer"], tally["students"], strict=True)) == {
        choice.text: count for choice, count in
        zip(LESSON.steps[0].question.choices, (2, 1, 0), strict=True)}
    # A student's page cannot move the class; the teacher's Next moves everyone.
    assert not [b for b in students[0].button if b.label == "Next"]
    _button(teacher, "Next").click().run()
    assert teacher.main.header[0].value == LESSON.steps[1].title
    for student in students:
        student.run()
        assert student.main.header[0].value == LESSON.steps[1].title
    assert teacher.sidebar.get("download_button")  # the answers, as CSV

    # A student may step out to explore, and come back to the step the class is on.
    wanderer = students[0]
    _button(wanderer, "Explore on my own").click().run()
    assert not wanderer.exception
    assert not [h for h in wanderer.main.header if h.value == LESSON.steps[1].title]
    assert wanderer.sidebar.get("pills")  # the whole explorer, presets and all
    _button(wanderer, "Back to the class").click().run()
    assert wanderer.main.header[0].value == LESSON.steps[1].title

    stranger = page(room=code, key="not-the-key")
    stranger.run()
    assert any("you follow the class as a student" in w.value for w in stranger.warning)
    assert not [b for b in stranger.button if b.label == "Reveal"]
    assert key not in str(stranger.query_params)


def test_train_over_the_work_cap_says_so_instead_of_failing(in_process_page):
    at = page()
    at.run()
    at.sidebar.slider(key="setting_epochs").set_value(1000)  # × 1000 images × 5 seeds
    next(b for b in at.sidebar.get("form_submit_button") if b.label == "Train").click().run()
    assert not at.exception
    assert any(e.value.startswith("Not trained:") and "cap" in e.value for e in at.sidebar.error)


def test_a_lesson_name_with_markup_is_shown_as_text(in_process_page):
    at = page(lesson="[Sign in](https://evil.example)")
    at.run()
    assert not at.exception
    texts = [w.value for w in at.warning]
    assert texts and not any("[Sign in](https://evil.example)" in text for text in texts)


def test_a_teachers_key_is_never_quoted_and_an_ended_class_keeps_its_answers(in_process_page):
    teacher = page(lesson="batch-norm", teach="1")
    teacher.run()
    code, key = teacher.query_params["room"], teacher.query_params["key"]
    repeated = page(room=code, key=["typo", key])
    repeated.run()
    assert not any(key in w.value for w in repeated.warning)
    teacher.run()
    # End the class asks first: its own control only opens the question.
    assert not [b for b in teacher.button if b.label == "End the class"]
    teacher.run()
    assert not any("has ended" in w.value for w in teacher.warning)
    _button(teacher, "End it for everyone").click().run()
    assert not teacher.exception
    assert any("has ended" in w.value for w in teacher.warning)
    assert [d for d in teacher.sidebar.get("download_button")]  # the answers, still
