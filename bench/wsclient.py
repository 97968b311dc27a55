"""A minimal Streamlit client speaking the app's websocket protocol, for load tests.

It does what a browser tab does for this app, without drawing: opens
``/_stcore/stream``, asks for a script run with the link's query string, follows
``auto_rerun`` requests (the live-progress fragment asks to be rerun every second, a
timer the real frontend keeps), keeps the query string the app writes back, and
notes the time at which the results' charts arrive, the queue places shown, and any
exception or error element. Streamlit's protobuf messages are its own (they ship with
the ``streamlit`` package), so this client follows the installed version; the protocol
is internal, though, and `check_protocol` names the Streamlit version and the missing
message field when one this client relies on is gone.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import streamlit
import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Block_pb2 import Block
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Delta_pb2 import Delta
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

QUEUE_TEXT = re.compile(r"place (\d+) in the queue")

# The parts of Streamlit's protocol this client uses: message -> fields (or oneof choices).
USED = {
    BackMsg: ("rerun_script",),
    ClientState: ("query_string", "page_script_hash", "fragment_id", "is_auto_rerun"),
    ForwardMsg: ("new_session", "page_info_changed", "auto_rerun", "stop_auto_rerun", "delta"),
    Delta: ("new_element", "add_block"),
    Block: ("tab_container",),
    Element: ("vega_lite_chart", "exception", "alert"),
}


class ProtocolChanged(RuntimeError):
    """The installed Streamlit no longer speaks the protocol this client was written for."""


def check_protocol() -> None:
    """Raise `ProtocolChanged`, naming the Streamlit version, if a message or field this
    client relies on is missing (the websocket protocol is Streamlit's internal one)."""
    missing = [f"{message.DESCRIPTOR.name}.{name}" for message, names in USED.items()
               for name in names if name not in message.DESCRIPTOR.fields_by_name]
    if "ERROR" not in Alert.Format.keys():  # noqa: SIM118 - an enum wrapper, not a dict
        missing.append("Alert.Format.ERROR")
    if missing:
        raise ProtocolChanged(
            f"Streamlit {streamlit.__version__} changed its websocket protocol: "
            f"{', '.join(missing)} missing; bench/wsclient.py needs updating")


@dataclass
class ProtocolSession:
    """What one protocol session received."""

    query: str
    opened_at: float = 0.0
    seconds_to_charts: float | None = None
    queue_places: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    runs: int = 0
    # The client's own address (a loopback one, 127.0.0.x: another device to the server's
    # st.context.ip_address); None: the system's choice.
    source: str | None = None
    # Every alert received, with time.monotonic() of its arrival.
    alerts: list[tuple[float, str]] = field(default_factory=list)
    # An alert matching this ends the session (a refusal: no charts will come).
    stop_on: re.Pattern | None = None
    stopped_by: str | None = None


async def run_session(base: str, session: ProtocolSession, timeout: float) -> ProtocolSession:
    """Open the page of ``session.query`` and follow it until the results' charts arrive."""
    check_protocol()
    url = base.replace("http://", "ws://") + "/_stcore/stream"
    session.opened_at = time.monotonic()
    query = session.query
    tabs_seen = False
    reruns: dict[str, asyncio.Task] = {}  # fragment id -> its timer, as the frontend keeps

    async def send_rerun(socket, fragment_id: str = "", auto: bool = False) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = query
        state.page_script_hash = ""
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = auto
        await socket.send(message.SerializeToString())

    async def auto_rerun(socket, interval: float, fragment_id: str) -> None:
        while True:
            await asyncio.sleep(interval)
            await send_rerun(socket, fragment_id, auto=True)

    try:
        local = {"local_addr": (session.source, 0)} if session.source else {}
        async with websockets.connect(url, subprotocols=["streamlit"], max_size=2**26,
                                      open_timeout=60, **local) as socket:
            await send_rerun(socket)
            deadline = session.opened_at + timeout
            while session.seconds_to_charts is None and not session.problems \
                    and session.stopped_by is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    session.problems.append(f"no charts after {timeout:.0f} s")
                    break
                try:
                    raw = await asyncio.wait_for(socket.recv(), remaining)
                except TimeoutError:
                    continue
                message = ForwardMsg.FromString(raw)
                kind = message.WhichOneof("type")
                if kind == "new_session":
                    session.runs += 1
                elif kind == "page_info_changed":
                    query = message.page_info_changed.query_string  # as the browser's URL
                elif kind == "auto_rerun":
                    fragment = message.auto_rerun.fragment_id
                    if fragment in reruns:
                        reruns[fragment].cancel()
                    reruns[fragment] = asyncio.create_task(auto_rerun(
                        socket, message.auto_rerun.interval, fragment))
                elif kind == "stop_auto_rerun":
                    for fragment in message.stop_auto_rerun.fragment_ids:
                        if fragment in reruns:
                            reruns.pop(fragment).cancel()
                elif kind == "delta":
                    delta = message.delta
                    if delta.WhichOneof("type") == "add_block" and \
                            delta.add_block.WhichOneof("type") == "tab_container":
                        tabs_seen = True
                    elif delta.WhichOneof("type") == "new_element":
                        element = delta.new_element
                        which = element.WhichOneof("type")
                        if which == "vega_lite_chart" and tabs_seen:
                            session.seconds_to_charts = time.monotonic() - session.opened_at
                        elif which == "exception":
                            session.problems.append(f"exception: {element.exception.message}")
                        elif which == "alert":
                            body = element.alert.body
                            session.alerts.append((time.monotonic(), body))
                            if session.stop_on is not None and session.stop_on.search(body):
                                session.stopped_by = body
                            session.queue_places.update(int(m) for m in QUEUE_TEXT.findall(body))
                            if element.alert.format == Alert.ERROR:
                                session.problems.append(f"error: {body[:200]}")
    except Exception as error:  # a refused or dropped connection is a failed session
        session.problems.append(f"{type(error).__name__}: {str(error)[:200]}")
    finally:
        for task in reruns.values():
            task.cancel()
    return session
