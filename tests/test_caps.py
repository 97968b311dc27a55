"""Bounded queues (`bnviz.caps`): a server takes on at most ``max_queued`` waiting trainings
and at most ``per_address`` queued or running for one client address; past a cap the visitor
is told why and what to do, and nothing already queued is lost."""

from __future__ import annotations

import pytest

from bnviz.caps import DEFAULT_MAX_QUEUED, DEFAULT_PER_ADDRESS, QueueCaps, QueueFull
from bnviz.jobs import DONE, QUEUED, RUNNING
from bnviz.store import ResultsStore
from tests.helpers import wait_for
from tests.test_jobs import HeldRunner, _request


def test_the_queue_takes_no_more_than_its_cap_and_says_when_to_come_back(tmp_path,
                                                                         open_manager):
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner,
                           caps=QueueCaps(max_queued=2, per_address=10))
    jobs = [manager.submit(_request(seed=seed), session=f"s{seed}") for seed in (1, 2, 3)]
    assert [job.status for job in jobs] == [RUNNING, QUEUED, QUEUED]
    wait_for(lambda: jobs[0].rows)  # the running one has shown its pace
    with pytest.raises(QueueFull) as refused:
        manager.submit(_request(seed=4), session="s4")
    assert "The server has 2 trainings waiting" in refused.value.plain
    assert "precomputed preset" in refused.value.plain
    assert "come back in" in refused.value.plain
    # Joining a training already queued is no new training: it is never refused.
    assert manager.submit(_request(seed=3), session="s5") is jobs[2]
    assert manager.pending_count() == 3  # nothing queued was lost
    runner.release.set()
    wait_for(lambda: all(job.status == DONE for job in jobs))
    assert manager.submit(_request(seed=4), session="s4").status in (QUEUED, RUNNING, DONE)


def test_one_address_cannot_fill_the_queue_but_another_still_can(tmp_path, open_manager):
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner,
                           caps=QueueCaps(max_queued=10, per_address=2))
    tabs = [manager.submit(_request(seed=seed), session=f"tab{seed}", address="10.0.0.7")
            for seed in (1, 2)]
    with pytest.raises(QueueFull) as refused:
        manager.submit(_request(seed=3), session="tab3", address="10.0.0.7")
    assert "2 trainings already waiting or running for your network address" in \
        refused.value.plain
    other = manager.submit(_request(seed=3), session="phone", address="10.0.0.8")
    assert other.status == QUEUED
    unknown = manager.submit(_request(seed=4), session="local")  # no address: no such cap
    assert unknown.status == QUEUED
    runner.release.set()
    wait_for(lambda: all(job.status == DONE for job in [*tabs, other, unknown]))
    # Once they have finished, the address may train again.
    assert manager.submit(_request(seed=5), session="tab3", address="10.0.0.7")


@pytest.mark.parametrize(("queued", "per_address", "expected"), [
    (None, None, (DEFAULT_MAX_QUEUED, DEFAULT_PER_ADDRESS)),
    ("5", "2", (5, 2)),
    ("0", "-1", (DEFAULT_MAX_QUEUED, DEFAULT_PER_ADDRESS)),  # below their least: the default
    ("5", "0", (5, 0)),  # no per-address cap (behind a proxy on another host)
    ("many", "3.5", (DEFAULT_MAX_QUEUED, DEFAULT_PER_ADDRESS)),  # not a whole number
])
def test_the_caps_are_read_from_the_environment(monkeypatch, queued, per_address, expected):
    for name, value in (("BNVIZ_MAX_QUEUED", queued), ("BNVIZ_MAX_PER_ADDRESS", per_address)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    caps = QueueCaps.from_environment()
    assert (caps.max_queued, caps.per_address) == expected


def test_a_visitor_past_the_servers_cap_is_told_why_and_loses_nothing(held_trainings,
                                                                     monkeypatch):
    from bnviz.page import Body
    from tests.helpers import TINY_LINK, decided, page

    monkeypatch.setenv("BNVIZ_MAX_QUEUED", "1")
    first = page(**TINY_LINK, seed="1", run="1")
    first.run()
    wait_for(lambda: held_trainings.asked)  # running: the queue is empty again
    second = page(**TINY_LINK, seed="2", run="1")
    second.run()  # queued: the queue is full now
    third = page(**TINY_LINK, seed="3", run="1")
    third.run()
    assert not third.exception
    assert any("The server has 1 training waiting, as many as it takes on" in w.value
               for w in third.warning)
    assert decided(third).body != Body.LIVE  # nothing to follow: it was not queued
    assert third.query_params["seed"] == "3"  # the settings asked for are kept in the link
    second.run()
    assert decided(second).body == Body.LIVE  # the queued one still waits for its turn


def test_only_trainings_an_address_started_count_against_it(tmp_path, open_manager):
    # Watching a training someone else started, or leaving it, adds nothing to an address.
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner,
                           caps=QueueCaps(max_queued=10, per_address=1))
    started = manager.submit(_request(seed=1), session="teacher", address="10.0.0.1")
    watched = manager.submit(_request(seed=1), session="student", address="10.0.0.2")
    assert watched is started
    manager.leave(started, "student")  # Stop watching
    own = manager.submit(_request(seed=2), session="student", address="10.0.0.2")
    assert own.status == QUEUED  # the student's address had started nothing
    with pytest.raises(QueueFull):
        manager.submit(_request(seed=3), session="teacher-tab-2", address="10.0.0.1")
    runner.release.set()
    wait_for(lambda: own.status == DONE)


def test_a_per_address_cap_of_0_caps_no_address(tmp_path, open_manager):
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner,
                           caps=QueueCaps(max_queued=10, per_address=0))
    jobs = [manager.submit(_request(seed=seed), session=f"s{seed}", address="10.0.0.9")
            for seed in range(1, 6)]
    assert len({id(job) for job in jobs}) == 5
    runner.release.set()
    wait_for(lambda: all(job.status == DONE for job in jobs))
