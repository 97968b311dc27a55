"""bnviz: batch normalisation, explained by two CNNs trained side by side."""

import streamlit as st

from bnviz import explain, tf_settings
from bnviz.comparison import ComparisonRequest
from bnviz.jobs import FAILED, JOB, QUEUED, RUNNING, STOPPED, Lookup
from ui import sections
from ui.sidebar import PRESET, TRAIN, show_experiment_sidebar
from ui.state import (
    asked_here,
    forget_run_request,
    link_reading,
    own_busy_job,
    shared_job_manager,
    show_link_problems,
    show_store_notices,
    submit_for_session,
    watch_again,
    watching,
    write_url,
)

tf_settings.apply()  # before anything imports TensorFlow (bnviz.tf_settings)
manager = shared_job_manager()
link = link_reading(manager.gallery)
present = link.present  # for a projector: the sidebar tucked away, charts large
st.set_page_config(page_title="bnviz: batch normalisation, side by side", page_icon="🧪",
                   layout="wide", initial_sidebar_state="collapsed" if present else "auto")
sections.compact_page()
run_requested = link.run
cannot_train = manager.cannot_train()
config, asked = show_experiment_sidebar(link.config, manager.gallery, can_train=not cannot_train)
request = ComparisonRequest(config)

st.title(explain.TITLE)
if not present:  # on a projector the room has the teacher for that
    st.caption(explain.SUBTITLE)
show_link_problems(link.problems)
cluster_problem = getattr(manager.runner, "problem", None)  # a Ray cluster out of reach
if cluster_problem:
    st.warning(cluster_problem)
if cannot_train:
    st.warning(f"This server cannot train new settings: {cannot_train}. Precomputed and "
               "stored results are shown as usual.")

if asked:
    write_url(config)
busy = None  # this session's other training, when it asked for a second one
if asked == TRAIN or run_requested or (asked == PRESET and manager.result_for(request) is None):
    submitted = submit_for_session(manager, request)
    busy = submitted if submitted.request != request else None
if run_requested:  # acted on once: a rerun, or a failed training, does not train it again
    forget_run_request()

job = manager.get(request)
found = manager.lookup(request)
training = job is not None and job.status in (QUEUED, RUNNING)
failed = job is not None and job.status == FAILED
stopped = job is not None and job.status == STOPPED and asked_here(request)
if stopped and job.result is not None:  # whoever stopped it sees what it had done
    found = Lookup(job.result, JOB)
show_store_notices(manager, request)

# A session trains one thing at a time: while its other training runs, a page with nothing
# else to show shows that one.
if busy is None and found.result is None and not training:
    busy = own_busy_job(manager, request)

if failed and (asked_here(request) or found.result is None):
    st.error(job.message or f"Training failed: {job.error}.")
if stopped and job.result is None:
    st.info(job.message)
if busy is not None:
    sections.show_busy(manager, busy, config, large=present)
elif training and watching(request) and (asked_here(request) or found.result is None):
    sections.show_live_training(manager, request, large=present)
elif training and found.result is None:  # this viewer stopped watching; it trains on
    st.info("You stopped watching this training; it goes on for whoever started it, and "
            "its result will be here when it is done.")
    if st.button("Watch again", key="watch_again"):
        watch_again(request)
        st.rerun()
elif found.result is not None:
    sections.show_origin(manager, request, found.origin, training)
    sections.show_results(found.result, manager, large=present)
elif failed:
    sections.show_about()
else:
    st.info("Choose a preset, or set the experiment in the sidebar and press **Train**. "
            "The blog's full run (100 epochs, both models) takes about a minute.")
    st.caption(sections.class_names_caption())
    sections.show_about()
