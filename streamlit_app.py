"""bnviz: batch normalisation, explained by two CNNs trained side by side."""

import streamlit as st

from bnviz import explain, tf_settings
from bnviz.classroom import hidden_fields
from bnviz.comparison import ComparisonRequest
from bnviz.page import Body, decide
from ui import lesson, sections, state
from ui.sidebar import PRESET, TRAIN, show_experiment_sidebar

tf_settings.apply()  # before anything imports TensorFlow (bnviz.tf_settings)
manager = state.shared_job_manager()
link = state.link_reading(manager.gallery)
present = link.present  # for a projector: the sidebar tucked away, charts large
st.set_page_config(page_title="bnviz: batch normalisation, side by side", page_icon="🧪",
                   layout="wide", initial_sidebar_state="collapsed" if present else "auto")
sections.compact_page()
run_requested = link.run
lesson.open_class_if_asked(link)  # teach=1: a new class, then the teacher's own link
place = lesson.current_place(link)  # where this visitor is in a lesson (None: not in one)
config, asked = show_experiment_sidebar(
    place.config(link.config, link.given, link.lesson.step) if place else link.config,
    manager.gallery,
    can_train=manager.cannot_train() is None,
    hidden=place.hidden if place else hidden_fields(link.lesson)[0],
    loaded_for=(place.lesson.name, place.index) if place else None)
request = ComparisonRequest(config)

st.title(explain.TITLE)
if not present:  # on a projector the room has the teacher for that
    st.caption(explain.SUBTITLE)
state.show_link_problems(link.problems)
state.show_server_problems(manager)
if place:
    lesson.show_step(place)
# A prediction first: in a lesson the result stays hidden until the reveal. (No st.stop():
# it would drop a rerun the follow fragment's timer queued meanwhile.)
if place and not lesson.revealed(place):
    lesson.show_question(place)
else:
    if place:
        lesson.show_reveal(place, manager)
    else:
        lesson.show_share_view(config)

    if asked:
        state.write_url(config, step=place.number if place and place.room else None)
    # Train and a preset train only what no result answers yet (a stored one, the gallery's, or
    # one cut from a longer run): the answer then shows at once, with its own Train button.
    # (Looked up as the page does for this session: its own stopped training's partial result is
    # what it sees, and Train then trains anew.)
    answered = manager.lookup(request, own=state.asked_here(request)).result if asked else None
    train_asked = bool(run_requested or (asked == TRAIN and (answered is None or answered.partial))
                       or (asked == PRESET and answered is None))
    if train_asked:  # refused when the queue is full (it says why): then nothing to follow
        train_asked = state.submit_for_session(manager, request) is not None
    if run_requested:  # acted on once: a rerun, or a failed training, does not train it again
        state.forget_run_request()

    view = decide(state.page_facts(manager, request, train_asked))
    st.session_state[state.VIEW] = view  # what was decided, for tests and for debugging
    state.show_store_notices(manager, request)  # after the look-up, which finds damaged entries
    if view.error:
        st.error(view.error)
    if view.notice:
        st.info(view.notice)
    match view.body:
        case Body.BUSY:
            sections.show_busy(manager, view.busy, config, large=present)
        case Body.LIVE:
            sections.show_live_training(manager, request, large=present)
        case Body.NOT_WATCHING:
            sections.show_not_watching(request)
        case Body.RESULT:
            sections.show_origin(manager, request, view.result, view.origin, view.training)
            sections.show_results(view.result, manager, large=present)
        case Body.ABOUT:
            sections.show_about()
        case Body.WELCOME:
            sections.show_welcome()
    if place:
        lesson.show_navigation(place)
lesson.mark_drawn(place)  # last: this run drew the whole page
state.hand_over()  # ...and the server has taken its messages before the next run starts
