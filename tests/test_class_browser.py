"""A live class in headless chromium: a teacher's page and five students' pages on one real
server. Students answer, the teacher's page counts them, Reveal shows the answers on every
page, Next moves every page; a restart of the server keeps the class. How fast a page follows
is measured in `bench/load.py --scenarios lesson` (thirty students, the bound of 3 s): here six
chromium pages draw on the server's two cores, so their seconds measure chromium too."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from bnviz.lessons import lesson
from tests.server import ARTIFACTS, page_server

LESSON = lesson("batch-norm")
# Longer than this and a page did not follow at all: a page looks every `FOLLOW_SECONDS`.
FOLLOW_TIMEOUT_MS = 30_000


def _room_of(url: str) -> tuple[str, str]:
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    return query["room"][0], query["key"][0]


@pytest.mark.slow
@pytest.mark.browser
def test_five_students_answer_see_the_reveal_and_follow_next(tmp_path):
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        teacher = browser.new_page(viewport={"width": 1400, "height": 1000})
        teacher.goto(f"{url}/?lesson=batch-norm&teach=1")
        teacher.wait_for_url("**key=**", timeout=30_000)
        code, _ = _room_of(teacher.url)
        teacher.get_by_text(f"Class {code}").first.wait_for(timeout=30_000)
        qr = teacher.get_by_role("img", name="QR code of the students' link")
        qr.first.wait_for(timeout=10_000)
        assert f"?room={code}" in qr.first.get_attribute("alt")

        students = []
        for _ in range(5):
            context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
            student = context.new_page()
            student.goto(f"{url}/?room={code}")
            students.append(student)
        for student in students:
            student.get_by_text(LESSON.steps[0].title).first.wait_for(timeout=30_000)
        choices = [0, 0, 0, 1, 2]
        for student, choice in zip(students, choices, strict=True):
            text = LESSON.steps[0].question.choices[choice].text
            student.get_by_text(text, exact=True).click()
            student.get_by_role("button", name="Answer").click()
            student.get_by_text("Your answer:").first.wait_for(timeout=30_000)
        teacher.get_by_text("5 of 5").first.wait_for(timeout=10_000)  # the live tally

        teacher.get_by_role("button", name="Reveal").click()
        for student in students:
            student.get_by_text("The class's answers: The BN model, 3; The baseline, 1; "
                                "Too close to tell apart, 1").first.wait_for(timeout=10_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        teacher.screenshot(path=str(ARTIFACTS / "class-teacher.png"), full_page=False)
        students[0].screenshot(path=str(ARTIFACTS / "class-student.png"), full_page=False)

        teacher.get_by_role("button", name="Next").click()
        clicked = time.monotonic()
        followed = []
        for student in students:
            student.get_by_text(LESSON.steps[1].title).first.wait_for(timeout=FOLLOW_TIMEOUT_MS)
            followed.append(time.monotonic() - clicked)
        print(f"\nstudents followed Next in {', '.join(f'{s:.1f}' for s in followed)} s")

        # End the class asks first, and both steps work from the keyboard.
        teacher.get_by_role("button", name="End the class").focus()
        teacher.keyboard.press("Enter")
        confirm = teacher.get_by_role("button", name="End it for everyone")
        confirm.wait_for(timeout=10_000)
        assert not students[0].get_by_text("has ended").count()  # asked, not yet ended
        confirm.focus()
        teacher.keyboard.press("Enter")
        teacher.get_by_text("has ended").first.wait_for(timeout=30_000)
        students[0].get_by_text("has ended").first.wait_for(timeout=FOLLOW_TIMEOUT_MS)
        for page in (teacher, *students):
            assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.slow
@pytest.mark.browser
def test_a_restart_keeps_the_class_its_step_and_its_answers(tmp_path):
    cache = tmp_path / "cache"
    with page_server(cache, tmp_path / "first.log") as (url, browser):
        teacher = browser.new_page()
        teacher.goto(f"{url}/?lesson=batch-norm&teach=1")
        teacher.wait_for_url("**key=**", timeout=30_000)
        code, key = _room_of(teacher.url)
        teacher.get_by_text(f"Class {code}").first.wait_for(timeout=30_000)
        student = browser.new_page()
        student.goto(f"{url}/?room={code}")
        student.get_by_text(LESSON.steps[0].question.choices[1].text, exact=True).click()
        student.get_by_role("button", name="Answer").click()
        student.get_by_text("Your answer:").first.wait_for(timeout=30_000)
        teacher.get_by_text("1 of 1").first.wait_for(timeout=10_000)
        teacher.get_by_role("button", name="Reveal").click()
        student.get_by_text("The class's answers").first.wait_for(timeout=10_000)
    # The first server is gone; a new one on the same store is the restart.
    with page_server(cache, tmp_path / "second.log") as (url, browser):
        teacher = browser.new_page()
        teacher.goto(f"{url}/?room={code}&key={key}")
        teacher.get_by_text(f"Class {code}").first.wait_for(timeout=30_000)
        teacher.get_by_text("The class's answers: The BN model, 0; The baseline, 1").first \
            .wait_for(timeout=30_000)
