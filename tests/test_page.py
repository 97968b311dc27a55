"""What the page shows, decided without Streamlit: every case of `bnviz.page.decide` and of
the controls a training offers (`training_control`)."""

from __future__ import annotations

import pytest

from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.job import DONE, FAILED, GALLERY, JOB, QUEUED, RUNNING, STOPPED, STORE, Job, Lookup
from bnviz.page import Body, Control, Facts, decide, training_control
from tests.helpers import fake_result

REQUEST = ComparisonRequest(ExperimentConfig(epochs=2, train_size=256))
OTHER = ComparisonRequest(ExperimentConfig(epochs=3, train_size=256))
RESULT = fake_result(REQUEST.config)
NOTHING = Lookup(None, "")


def _facts(job: Job | None = None, found: Lookup = NOTHING, busy: Job | None = None,
           train_asked: bool = False, asked_here: bool = False, watching: bool = True) -> Facts:
    return Facts(job=job, found=found, busy=busy, train_asked=train_asked,
                 asked_here=asked_here, watching=watching)


def test_nothing_trained_and_nothing_asked_welcomes():
    assert decide(_facts()).body == Body.WELCOME


@pytest.mark.parametrize("origin", [JOB, STORE, GALLERY])
def test_a_finished_result_is_shown_with_its_origin(origin):
    view = decide(_facts(Job(REQUEST, DONE, result=RESULT), Lookup(RESULT, origin)))
    assert (view.body, view.result, view.origin, view.training) == (
        Body.RESULT, RESULT, origin, False)
    assert view.error is None and view.notice is None


@pytest.mark.parametrize("status", [QUEUED, RUNNING])
def test_a_training_is_followed_by_whoever_has_nothing_else_to_see(status):
    assert decide(_facts(Job(REQUEST, status))).body == Body.LIVE


def test_a_training_of_a_precomputed_result_shows_others_the_gallerys_and_its_starter_the_live():
    training, precomputed = Job(REQUEST, RUNNING), Lookup(RESULT, GALLERY)
    other = decide(_facts(training, precomputed))
    assert (other.body, other.origin, other.training) == (Body.RESULT, GALLERY, True)
    assert decide(_facts(training, precomputed, asked_here=True)).body == Body.LIVE


def test_a_viewer_who_stopped_watching_is_offered_to_watch_again():
    view = decide(_facts(Job(REQUEST, RUNNING), watching=False))
    assert view.body == Body.NOT_WATCHING and view.controls == (Control.WATCH_AGAIN,)
    # with a result to show (the gallery's) it sees that instead
    assert decide(_facts(Job(REQUEST, RUNNING), Lookup(RESULT, GALLERY),
                         watching=False)).body == Body.RESULT


def test_a_failed_training_is_said_to_whoever_asked_or_has_nothing_else():
    failed = Job(REQUEST, FAILED, error="ValueError: x", message="It failed: try again.")
    alone = decide(_facts(failed))
    assert (alone.body, alone.error) == (Body.ABOUT, "It failed: try again.")
    precomputed = Lookup(RESULT, GALLERY)
    assert decide(_facts(failed, precomputed)).error is None  # a viewer sees the gallery's
    asker = decide(_facts(failed, precomputed, asked_here=True))
    assert (asker.body, asker.error) == (Body.RESULT, "It failed: try again.")
    assert decide(_facts(Job(REQUEST, FAILED, error="E: x"))).error == "Training failed: E: x."


def test_a_training_stopped_before_its_first_epoch_tells_its_starter_only():
    stopped = Job(REQUEST, STOPPED, message="Stopped before the first epoch ended")
    assert decide(_facts(stopped, asked_here=True)).notice.startswith("Stopped before")
    assert decide(_facts(stopped)).notice is None
    assert decide(_facts(stopped, asked_here=True)).body == Body.WELCOME


def test_a_session_with_another_training_sees_it_when_it_asks_or_has_nothing_else():
    busy = Job(OTHER, RUNNING)
    assert decide(_facts(busy=busy)).busy is busy  # nothing else to show
    asked = decide(_facts(found=Lookup(RESULT, GALLERY), busy=busy, train_asked=True))
    assert (asked.body, asked.busy) == (Body.BUSY, busy)  # asked for a second: refused
    looking = decide(_facts(found=Lookup(RESULT, GALLERY), busy=busy))
    assert looking.body == Body.RESULT  # only looking at a result: sees it


def _job(status, owner="starter", others=(), stopping=False) -> Job:
    job = Job(REQUEST, status, requesters=[owner, *others])
    if stopping:
        job.stop_requested.set()
    return job


def test_the_starter_of_a_running_training_may_stop_it_where_it_can_stop():
    assert training_control(_job(RUNNING), "starter", stoppable=True) == Control.STOP
    assert training_control(_job(RUNNING, stopping=True), "starter", True) == Control.STOPPING
    assert training_control(_job(RUNNING), "starter", stoppable=False) is None  # a sweep


def test_a_queued_training_is_withdrawn_by_its_askers_and_others_stop_watching():
    queued = _job(QUEUED, others=("second",))
    assert training_control(queued, "starter", True) == Control.WITHDRAW
    assert training_control(queued, "second", True) == Control.WITHDRAW
    assert training_control(queued, "onlooker", True) == Control.STOP_WATCHING
    assert training_control(_job(RUNNING, others=("second",)), "second",
                            True) == Control.STOP_WATCHING
