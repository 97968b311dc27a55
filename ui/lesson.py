"""A lesson on the page (`bnviz.classroom`): the step to read, its question, Back and Next, a
live class's room and the teacher's controls, and the links that hide controls."""

from __future__ import annotations

import base64
import html
import io
import urllib.parse
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from bnviz import charts
from bnviz.classroom import (
    KEY_PARAM,
    LESSON_PARAM,
    ME_PARAM,
    ROOM_PARAM,
    STEP_PARAM,
    Place,
    Role,
    place,
)
from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig, field_meta, field_names
from bnviz.jobs import JobManager
from bnviz.lessons import READERS, LessonError, NoAnswer, lesson, reveal_text
from bnviz.link import MAX_LESSON_TEXT, PRESENT_PARAM, LinkReading, markdown_code, markdown_text
from bnviz.rooms import FileRoomStore, Room, RoomError, new_student_id
from bnviz.store import default_cache_dir
from ui import sections

_STUDENT = "student_id"  # session state: this browser's random id in a class
_ANSWERS = "lesson_answers"  # session state: (lesson, step) -> choice, self-paced
_EXPLORING = "exploring_alone"  # session state: room codes this student stepped out of
_SHOWN_STEP = "lesson_step_shown"  # session state: the (lesson, step) the tabs were set for
_FULL_RUNS = "class_full_runs"  # session state: how many full runs of the page this session had
_DRAWN = "class_drawn"  # session state: the class as the last full run that reached its end drew it
_SEEN = "class_fragment_seen"  # session state: the full run the follow fragment last ran in
# How often a student's page looks for the teacher's move. One second: thirty websocket students
# on a 2-core AMD EPYC followed Next with p95 1.1 s (the bound is 3 s) while looking cost the
# server 0.11-0.15 of a core; at half a second p95 was 0.61 s for 0.21 of a core
# (`bench/load.py --scenarios lesson`).
FOLLOW_SECONDS = 1.0


@st.cache_resource
def _rooms_in(directory: str) -> FileRoomStore:
    return FileRoomStore(Path(directory))


def rooms() -> FileRoomStore:
    """This server's classes, kept beside its results (``BNVIZ_CACHE_DIR``): they survive a
    restart."""
    return _rooms_in(str(Path(default_cache_dir()) / "rooms"))


def open_class_if_asked(link: LinkReading) -> None:
    """``lesson=NAME&teach=1``: open a class for that lesson and send the teacher to the
    teacher's link (its key stays in that link only). A bad lesson name is said by `current_place`
    like any other, and the page goes on as usual."""
    if not (link.lesson.teach and link.lesson.lesson):
        return
    try:
        taught = lesson(link.lesson.lesson)
        room, key = rooms().open_room(taught.name, len(taught.steps))
    except (LessonError, RoomError) as error:
        st.error(markdown_text(str(error), 300))  # it quotes the link's text: no markup
        return
    present = st.query_params.get_all(PRESENT_PARAM)
    st.query_params.from_dict({ROOM_PARAM: room.code, KEY_PARAM: key,
                               **({PRESENT_PARAM: present[-1]} if present else {})})
    st.rerun()


def current_place(link: LinkReading) -> Place | None:
    """Where this visitor stands in a lesson (None outside one, or while a student explores
    alone), after saying what was wrong with the link's lesson, room or step."""
    if link.lesson.teach and link.lesson.lesson:
        return None  # `open_class_if_asked` could not open it and said why
    st.session_state[_FULL_RUNS] = st.session_state.get(_FULL_RUNS, 0) + 1
    found, problems = place(link.lesson, rooms())
    for problem in problems:
        st.warning(markdown_text(problem, 300))  # they quote the link's text: no markup
    if found is None and link.lesson.room and link.lesson.key:
        _offer_answers_of_an_ended_class(link.lesson.room, link.lesson.key)
    if found is None or found.room is None:
        return found
    if found.role is Role.STUDENT:
        # The id lives in the student's link too: a reload is the same student.
        student = st.session_state.setdefault(_STUDENT, link.lesson.me or new_student_id())
        if st.query_params.get(ME_PARAM) != student:
            st.query_params[ME_PARAM] = student
        try:
            rooms().join(found.room.code, student)
        except RoomError as error:
            st.warning(markdown_text(str(error), 300))
            return None
        if found.room.code in st.session_state.get(_EXPLORING, set()):
            _show_back_to_class(found)
            return None
    return found


def _offer_answers_of_an_ended_class(code: str, key: str) -> None:
    """The teacher's link of a class that has ended still downloads its answers."""
    try:
        answers = rooms().answers_csv(code, key)
    except RoomError:
        return  # not the teacher's, or no such class: the warning above said what
    st.sidebar.download_button("Download the answers (CSV)", answers,
                               file_name=f"bnviz-class-{code.strip().upper()}-answers.csv",
                               mime="text/csv", on_click="ignore")


def _show_back_to_class(found: Place) -> None:
    with st.sidebar:
        st.info(f"You left class {found.room.code} to explore on your own.")
        if st.button("Back to the class", type="primary"):
            st.session_state[_EXPLORING].discard(found.room.code)
            st.rerun()


def revealed(found: Place) -> bool:
    """Whether the step's result may be shown to this visitor now."""
    return found.revealed(answered(found) is not None)


def answered(found: Place) -> int | None:
    """This visitor's answer to the step's question (its index), if any."""
    if found.room is not None:
        student = st.session_state.get(_STUDENT)
        return found.room.answers.get(found.index, {}).get(student)
    return st.session_state.get(_ANSWERS, {}).get((found.lesson.name, found.index))


def open_steps_tab(found: Place) -> None:
    """Open the tab the step names, once when the step is first shown (the student may open
    another tab after)."""
    shown = (found.lesson.name, found.index)
    if st.session_state.get(_SHOWN_STEP) != shown:
        st.session_state[_SHOWN_STEP] = shown
        st.session_state["section"] = found.step.tab


def show_step(found: Place) -> None:
    """The lesson's title and where the visitor is, the step's title and text; the step's
    tab opened the first time the step is shown."""
    open_steps_tab(found)
    room = f" · class {found.room.code}" if found.room is not None else ""
    st.caption(f"Lesson: **{found.lesson.title}** · step {found.number} of "
               f"{len(found.lesson.steps)}{room}")
    st.header(found.step.title)  # h2: the page title is the h1
    st.markdown(found.step.text)
    if found.role is Role.TEACHER:
        _show_teacher_panel(found)
    elif found.role is Role.STUDENT:
        _follow_the_class(found)
        if st.sidebar.button("Explore on my own",
                             help="Leave the class for a while; come back from the sidebar."):
            st.session_state.setdefault(_EXPLORING, set()).add(found.room.code)
            st.rerun()


def show_question(found: Place) -> None:
    """The step's question before its reveal: the choices, and what this visitor answered."""
    question = found.step.question
    if question is None:
        return
    mine = answered(found)
    if found.role is Role.TEACHER:
        st.markdown(f"**Question:** {question.prompt}")
        st.markdown("\n".join(f"{letter}. {choice.text}" for letter, choice in
                              zip("ABCD", question.choices, strict=False)))
        return
    with st.form(f"question_{found.lesson.name}_{found.index}"):
        picked = st.radio(question.prompt, range(len(question.choices)), index=mine,
                          format_func=lambda i: question.choices[i].text)
        sent = st.form_submit_button("Answer", type="primary")
    if sent and picked is not None and _answer(found, int(picked)):
        st.rerun()
    if sent and picked is None:
        st.warning("Choose one of the answers first.")
    if found.room is not None and mine is not None:
        st.info(f"Your answer: **{question.choices[mine].text}**. You may change it until "
                "your teacher reveals the result.")
    elif found.room is None:
        st.caption("Answer to see the result: predicting first is what makes a demonstration "
                   "teach (Crouch, Fagen, Callan & Mazur 2004).")
    if found.role is Role.SELF_PACED:
        show_navigation(found)


def _answer(found: Place, choice: int) -> bool:
    """Record this visitor's answer; False (and why, on the page) when the class refused it."""
    if found.room is None:
        st.session_state.setdefault(_ANSWERS, {})[(found.lesson.name, found.index)] = choice
        return True
    try:
        rooms().answer(found.room.code, st.session_state[_STUDENT], found.index, choice,
                       len(found.step.question.choices))
    except RoomError as error:
        st.warning(f"Your answer was not taken: {markdown_text(str(error), 300)}")
        return False
    return True


def show_reveal(found: Place, manager: JobManager) -> None:
    """After the reveal: what the step's own run shows against this visitor's answer, and in
    a class the distribution of the class's answers."""
    question = found.step.question
    if question is None:
        return
    result = manager.lookup(ComparisonRequest(found.step.config())).result
    if result is None:
        st.info("The result of this step is not on this server yet: it trains now.")
        return
    mine = answered(found)
    if mine is not None:
        st.success(reveal_text(question, result, mine))
    else:
        try:
            st.success(READERS[question.reader].read(result).facts)
        except NoAnswer as error:
            st.info(f"This run cannot answer the question: {error}.")
    if found.room is not None:
        _show_tally(found)


def _tally_frame(found: Place) -> pd.DataFrame:
    question = found.step.question
    counts = found.room.tally(found.index, len(question.choices))
    return pd.DataFrame({"answer": [choice.text for choice in question.choices],
                         "students": counts})


def _show_tally(found: Place) -> None:
    frame = _tally_frame(found)
    total = int(frame["students"].sum())
    description = ("The class's answers: " + "; ".join(
        f"{row.answer}, {row.students}" for row in frame.itertuples()) + f" ({total} in all).")
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("students:Q", title="Students", axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("answer:N", title=None, sort=list(frame["answer"]),
                axis=alt.Axis(labelOverlap=False, labelLimit=240)),
        tooltip=["answer", "students"]).properties(height=44 * len(frame))
    st.vega_lite_chart(charts.described_spec(chart, description), width="stretch")
    st.caption(description)
    sections.show_data_table(f"tally_{found.room.code}_{found.index}_data", lambda: frame)


def _state(room: Room) -> tuple[str, int, bool, bool, int | None]:
    """What a student's page draws of the class: its step, reveal and end, and this student's
    own answer at the step (a run cut short after an answer must still confirm it)."""
    mine = room.answers.get(room.step, {}).get(st.session_state.get(_STUDENT))
    return room.code, room.step, room.revealed, room.ended, mine


def mark_drawn(found: Place | None) -> None:
    """Note, at the very end of a page run, which state of the class the page now shows: a run
    cut short (Streamlit ends a run early when reruns queue up behind it, as thirty pages
    redrawing at a reveal make them) leaves the old state noted, and the follow fragment then
    draws the page again."""
    if found is not None and found.room is not None:
        st.session_state[_DRAWN] = _state(found.room)


@st.fragment(run_every=FOLLOW_SECONDS)
def _follow_the_class(found: Place) -> None:
    """A student's page follows the teacher: when the class moves, reveals or ends, when this
    student's own answer changed (in another tab), or when the last page run ended before it
    drew what it had read, the whole page is drawn again
    (within `FOLLOW_SECONDS`)."""
    try:
        now = rooms().room(found.room.code)
    except RoomError:
        return
    run = st.session_state.get(_FULL_RUNS)
    # Within a full run the page is still being drawn: only a rerun of the fragment alone, in
    # the same full run's wake, can tell that the run never reached its end.
    cut_short = st.session_state.get(_SEEN) == run and st.session_state.get(
        _DRAWN) != _state(found.room)
    st.session_state[_SEEN] = run
    if _state(now) != _state(found.room) or cut_short:
        st.rerun(scope="app")
    st.caption(f"Following class {now.code}: your page moves with your teacher's.")


def _show_teacher_panel(found: Place) -> None:
    room = found.room
    students = students_link(room.code)
    with st.sidebar:
        st.header(f"Class {room.code}")
        st.markdown(f"Students open {markdown_code(students, 200)}, or scan:")
        # An <img> of our own: st.image gives its picture no alt text (streamlit/streamlit#8563's
        # sibling); the link is ours, escaped, and the PNG data cannot hold markup.
        qr = base64.b64encode(_qr_png(students)).decode()
        st.markdown(f'<img src="data:image/png;base64,{qr}" width="220" '
                    f'alt="QR code of the students\' link, {html.escape(students)}">',
                    unsafe_allow_html=True)
        st.caption("Keep this page's own link to yourself: it holds the teacher's key.")
        _teacher_controls(found)
    _live_count(found)


@st.fragment(run_every=FOLLOW_SECONDS)
def _live_count(found: Place) -> None:
    """The teacher's live count of who has joined and answered."""
    try:
        now = rooms().room(found.room.code)
    except RoomError:
        return
    if found.step.question is not None:
        st.metric("Answered", f"{now.answered(found.index)} of {now.present}")
    else:
        st.metric("Students in the class", now.present)


END_CLASS_WARNING = ("Every student's page then says the class has ended, and it takes no "
                     "more answers; this page still downloads the answers.")
END_CLASS_CONFIRM = "End it for everyone"


def _teacher_controls(found: Place) -> None:
    # Read as the link reader reads it (`bnviz.link`): stripped and cut, as `place` judged it.
    room, key = found.room, st.query_params.get(KEY_PARAM, "").strip()[:MAX_LESSON_TEXT]
    store = rooms()
    columns = st.columns(2)
    moves = []
    if columns[0].button("Back", disabled=found.index == 0, width="stretch"):
        moves.append(lambda: store.move(room.code, key, found.index - 1))
    if columns[1].button("Next", type="primary", disabled=found.is_last, width="stretch"):
        moves.append(lambda: store.move(room.code, key, found.index + 1))
    if found.step.question is not None and not room.revealed and st.button(
            "Reveal", type="primary", width="stretch",
            help="Show the result and the class's answers on every page."):
        moves.append(lambda: store.reveal(room.code, key))
    # Asked twice: one stray click would otherwise close the class for the whole room.
    with st.popover("End the class", width="stretch"):
        st.markdown(END_CLASS_WARNING)
        if st.button(END_CLASS_CONFIRM, type="primary", width="stretch"):
            moves.append(lambda: store.end(room.code, key))
    for move in moves:
        try:
            move()
        except RoomError as error:
            st.warning(f"{error}")
            return
        st.rerun()
    try:
        answers = store.answers_csv(room.code, key)
    except RoomError:
        return
    st.download_button("Download the answers (CSV)", answers,
                       file_name=f"bnviz-class-{room.code}-answers.csv", mime="text/csv",
                       on_click="ignore", help="One row per answer: step, a random id per "
                       "student (no names), the choice (both counted from 0).")


def _qr_png(text: str) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def _page_url() -> str:
    """This page's address without its query ('' where Streamlit does not know it)."""
    url = getattr(st.context, "url", None) or ""
    return url.split("?", 1)[0]


def students_link(code: str) -> str:
    """The link students open to follow the class."""
    return f"{_page_url()}?{urllib.parse.urlencode({ROOM_PARAM: code})}"


def show_navigation(found: Place) -> None:
    """Back and Next of a self-paced lesson (the step is in the link, so it can be shared);
    a class moves with its teacher's buttons, in the teacher's sidebar."""
    if found.role is not Role.SELF_PACED:
        return
    columns = st.columns([1, 1, 4])
    target = None
    if columns[0].button("Back", disabled=found.index == 0, width="stretch"):
        target = found.number - 1
    if columns[1].button("Next", type="primary", disabled=found.is_last, width="stretch"):
        target = found.number + 1
    if target is not None:
        present = st.query_params.get_all(PRESENT_PARAM)
        st.query_params.from_dict({LESSON_PARAM: found.lesson.name, STEP_PARAM: str(target),
                                   **({PRESENT_PARAM: present[-1]} if present else {})})
        st.rerun()


def show_share_view(config: ExperimentConfig) -> None:
    """"Share this view": a link to these settings with the controls chosen hidden, drawn
    only while it is open: its code block loads the page's largest script (1.5 MB, the syntax
    highlighter), which delayed the first chart of every visit."""
    share = st.sidebar.expander("Share this view", key="share_view", on_change="rerun")
    if not share.open:
        return
    with share:
        hidden = st.multiselect("Controls to hide", field_names(),
                                format_func=lambda name: field_meta(name)["label"],
                                help="The link opens on these settings with these controls "
                                "out of the sidebar, so a class sees only what it should "
                                "change.")
        query = {**config.to_mapping(), **({"hide": ",".join(hidden)} if hidden else {})}
        st.code(f"{_page_url()}?{urllib.parse.urlencode(query)}", language=None, wrap_lines=True)
