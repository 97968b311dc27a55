"""A student of a live class speaking the app's websocket protocol, for ``bench/load.py``.

`ClassStudent` does what a student's tab does in a class (issue 25), without drawing: it opens
``/_stcore/stream``, asks for a script run with ``room=CODE``, keeps a timer for every
``auto_rerun`` fragment as the frontend does (one steady interval per fragment, ticking whether
or not a script runs: the page's follow fragment re-reads the room every second, and its
``st.rerun(scope="app")`` brings the next step when the teacher moves), notes each step heading (h2)
(the step's title) with the monotonic time it arrived, finds the question's radio and its form's
submit button among the deltas, and answers as the frontend submits a form: one
``rerun_script`` whose widget states hold the radio's value and the button's trigger.

It builds on `bench.wsclient` (its protocol check, and the same rerun messages); the fields this
client reads beyond those are listed in `USED` here, and `check_protocol` names the Streamlit
version and the missing field when one is gone, so an upgrade fails with a message, not a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import streamlit
import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.AutoRerun_pb2 import AutoRerun, StopAutoRerun
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Button_pb2 import Button
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.Heading_pb2 import Heading
from streamlit.proto.Markdown_pb2 import Markdown
from streamlit.proto.Radio_pb2 import Radio
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

from bench import wsclient
from bench.wsclient import ProtocolChanged

STEP_HEADING = "h2"  # the tag st.header gives its heading; the step's title is one
ANSWERED = "Your answer:"  # the info alert a student sees once the class took the answer
TALLY = "The class's answers: "  # the caption every page shows after the reveal

# The parts of Streamlit's protocol this client uses beyond `bench.wsclient.USED`.
USED = {
    ClientState: ("widget_states",),
    WidgetStates: ("widgets",),
    # st.radio sends the chosen option's text (string_value, echoed back in raw_value);
    # older Streamlit versions sent its index as int_value.
    WidgetState: ("id", "string_value", "trigger_value"),
    AutoRerun: ("interval", "fragment_id"),
    StopAutoRerun: ("fragment_ids",),
    Element: ("heading", "radio", "button", "markdown", "alert", "exception"),
    Heading: ("tag", "body"),
    Radio: ("id", "label", "options", "form_id", "raw_value"),
    Button: ("id", "label", "form_id", "is_form_submitter"),
    Markdown: ("body",),
    Alert: ("body", "format"),
}


def check_protocol() -> None:
    """`bench.wsclient.check_protocol`, then the fields this client adds: raise
    `ProtocolChanged`, naming the Streamlit version, if one is missing."""
    wsclient.check_protocol()
    missing = [f"{message.DESCRIPTOR.name}.{name}" for message, names in USED.items()
               for name in names if name not in message.DESCRIPTOR.fields_by_name]
    missing += [f"Alert.Format.{name}" for name in ("INFO", "WARNING", "ERROR")
                if name not in Alert.Format.keys()]  # noqa: SIM118 - an enum wrapper
    if missing:
        raise ProtocolChanged(
            f"Streamlit {streamlit.__version__} changed its websocket protocol: "
            f"{', '.join(missing)} missing; bench/wsclass.py needs updating")


@dataclass(frozen=True)
class Question:
    """A form on the page holding a radio: what a student answers with."""

    form_id: str
    radio_id: str
    prompt: str
    options: tuple[str, ...]
    submit_id: str


class ClassStudent:
    """One student's tab in the class with ``code``; use as ``async with``.

    Everything received is kept with its arrival time (``time.monotonic()``), so the caller
    asks afterwards when a title first arrived after a moment of its own (`arrived`).
    """

    def __init__(self, base: str, code: str, index: int = 0, open_timeout: float = 60) -> None:
        self.url = base.replace("http://", "ws://") + "/_stcore/stream"
        self.query = f"room={code}"
        self.index = index
        self.open_timeout = open_timeout
        self.headings: list[tuple[float, str]] = []  # every step heading: (arrival, text)
        self.alerts: list[tuple[float, str]] = []  # every info alert: (arrival, body)
        self.tallies: list[tuple[float, str]] = []  # every "The class's answers" caption
        self.problems: list[str] = []  # exceptions, error and warning alerts, lost sockets
        self.runs = 0  # script runs begun (new_session): the follow fragment's too
        self.answer_sent: float | None = None  # when the last answer left
        self.closed = False
        self._radios: dict[str, Radio] = {}  # form id -> the radio drawn in it
        self._submits: dict[str, str] = {}  # form id -> its submit button's widget id
        self._latest_form = ""
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}  # fragment -> interval, timer
        self._changed = asyncio.Condition()
        self._socket = None
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> ClassStudent:
        check_protocol()
        self._socket = await websockets.connect(
            self.url, subprotocols=["streamlit"], max_size=2**26,
            open_timeout=self.open_timeout)
        self._reader = asyncio.create_task(self._read())
        await self._send(self._rerun())
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in (*(timer for _, timer in self._timers.values()), self._reader):
            if task is not None:
                task.cancel()
        if self._socket is not None:
            await self._socket.close()

    # -- what was seen ---------------------------------------------------------------

    @property
    def title(self) -> str | None:
        """The latest step heading received: the step the page shows."""
        return self.headings[-1][1] if self.headings else None

    @property
    def question(self) -> Question | None:
        """The latest form drawn with a radio and a submit button, if any."""
        radio = self._radios.get(self._latest_form)
        submit = self._submits.get(self._latest_form)
        if radio is None or submit is None:
            return None
        return Question(self._latest_form, radio.id, radio.label, tuple(radio.options), submit)

    def arrived(self, title: str, since: float) -> float | None:
        """When a step heading reading ``title`` first arrived at or after ``since``."""
        return next((at for at, text in self.headings if at >= since and text == title), None)

    def tally(self, since: float = 0.0) -> str | None:
        """The latest "The class's answers" caption received at or after ``since``."""
        found = [text for at, text in self.tallies if at >= since]
        return found[-1] if found else None

    async def wait_for(self, predicate: Callable[[], bool], timeout: float,
                       what: str) -> bool:
        """Wait until ``predicate()`` holds; False, with a problem noted, after ``timeout``
        seconds or when the connection is lost."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.closed or predicate()), timeout)
        if predicate():
            return True
        shown = f"the page shows {self.title!r}" + (
            f" and says {self.alerts[-1][1][:100]!r}" if self.alerts else "")
        self.problems.append(f"no {what} after {timeout:.0f} s ({shown}; {self.runs} runs)"
                             if not self.closed else f"connection lost before {what}")
        return False

    # -- what a student does ---------------------------------------------------------

    async def answer(self, choice: int, timeout: float = 30) -> float | None:
        """Pick option ``choice`` (from 0) of the question on the page and press its submit
        button; the seconds from sending to the "Your answer:" alert naming that option, or
        None (a problem noted) if it does not come."""
        if not await self.wait_for(lambda: self.question is not None, timeout, "question"):
            return None
        question = self.question
        picked = question.options[choice]
        # As the frontend's submitForm: the form's values and the trigger of the button that
        # submitted it, in one rerun; the server keeps every other widget's value as it was.
        message = self._rerun()
        widgets = message.rerun_script.widget_states.widgets
        radio = widgets.add()
        radio.id, radio.string_value = question.radio_id, picked
        submit = widgets.add()
        submit.id, submit.trigger_value = question.submit_id, True
        sent = self.answer_sent = time.monotonic()
        await self._send(message)
        if not await self.wait_for(lambda: self._answered_since(sent) is not None, timeout,
                                   f"'{ANSWERED}' alert"):
            return None
        at, body = self._answered_since(sent)
        if f"**{picked}**" not in body:  # the value was not read as sent
            self.problems.append(
                f"answered {picked!r} but the page says {body[:120]!r}: Streamlit "
                f"{streamlit.__version__} may send st.radio's value differently "
                "(bench/wsclass.py needs updating)")
        return at - sent

    def _answered_since(self, since: float) -> tuple[float, str] | None:
        return next(((at, body) for at, body in self.alerts
                     if at >= since and body.startswith(ANSWERED)), None)

    # -- the protocol ----------------------------------------------------------------

    def _rerun(self, fragment_id: str = "", auto: bool = False) -> BackMsg:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        state.page_script_hash = ""
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = auto
        return message

    async def _send(self, message: BackMsg) -> None:
        await self._socket.send(message.SerializeToString())

    async def _timer(self, interval: float, fragment_id: str) -> None:
        """The frontend's timer of a ``run_every`` fragment: a ``setInterval`` that asks for
        a rerun of it every ``interval`` seconds, whether or not a script is running."""
        started = time.monotonic()
        ticks = 0
        while True:
            ticks += 1
            await asyncio.sleep(max(0.0, started + ticks * interval - time.monotonic()))
            await self._send(self._rerun(fragment_id, auto=True))

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                self._receive(ForwardMsg.FromString(raw), time.monotonic())
                async with self._changed:
                    self._changed.notify_all()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a dropped connection is a failed student
            self.problems.append(f"{type(error).__name__}: {str(error)[:200]}")
        self.closed = True
        async with self._changed:
            self._changed.notify_all()

    def _receive(self, message: ForwardMsg, at: float) -> None:
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self.runs += 1
        elif kind == "page_info_changed":
            self.query = message.page_info_changed.query_string  # as the browser's URL
        elif kind == "auto_rerun":
            # Every run that draws the fragment sends this again; the frontend keeps a running
            # timer of the same interval (its handleAutoRerun), so its phase is the first one.
            fragment, interval = message.auto_rerun.fragment_id, message.auto_rerun.interval
            if fragment in self._timers and self._timers[fragment][0] == interval:
                return
            if fragment in self._timers:
                self._timers[fragment][1].cancel()
            self._timers[fragment] = (interval,
                                      asyncio.create_task(self._timer(interval, fragment)))
        elif kind == "stop_auto_rerun":
            for fragment in message.stop_auto_rerun.fragment_ids:
                if fragment in self._timers:
                    self._timers.pop(fragment)[1].cancel()
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            self._element(message.delta.new_element, at)

    def _element(self, element: Element, at: float) -> None:
        which = element.WhichOneof("type")
        if which == "heading" and element.heading.tag == STEP_HEADING:
            self.headings.append((at, element.heading.body))
        elif which == "radio" and element.radio.form_id:
            self._radios[element.radio.form_id] = element.radio
            self._latest_form = element.radio.form_id
        elif which == "button" and element.button.is_form_submitter:
            self._submits[element.button.form_id] = element.button.id
        elif which == "markdown" and element.markdown.body.startswith(TALLY):
            self.tallies.append((at, element.markdown.body))
        elif which == "alert":
            body = element.alert.body
            if element.alert.format == Alert.INFO:
                self.alerts.append((at, body))
            elif element.alert.format in (Alert.ERROR, Alert.WARNING):
                self.problems.append(f"{Alert.Format.Name(element.alert.format).lower()}: "
                                     f"{body[:200]}")
        elif which == "exception":
            self.problems.append(f"exception: {element.exception.message[:200]}")
