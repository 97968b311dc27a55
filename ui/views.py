"""What viewers see of a finished result, built once per result and shared by every session.

Why: thirty students opening one link within seconds each ran the whole page script,
and building the Altair charts (validation included) was most of its cost, about a
quarter of a second of the server's one Python core per viewer. The views of a
result (chart specifications, tables, encoded images) depend only on the result and
on what is asked of it, so they are built by the first viewer and handed to the rest.

The memory bound is the results' own: views are kept beside the result object they
were built from (weakly keyed) and go when the job manager or the gallery lets the
result go (`bnviz.jobs.RESULTS_KEPT` finished results per server, plus the
gallery's presets).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from bnviz import charts

T = TypeVar("T")

_lock = threading.Lock()
_views: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = weakref.WeakKeyDictionary()


def once(result: Any, name: Hashable, build: Callable[[], T]) -> T:
    """``build()`` the first time ``name`` is asked of ``result``; the same object after.

    Callers must treat what comes back as read-only: every session gets that object.
    Two sessions asking at the same moment may both build it; one of the two is kept.
    """
    with _lock:
        views = _views.setdefault(result, {})
        if name in views:
            return views[name]
    built = build()
    with _lock:
        return views.setdefault(name, built)


def chart_spec(result: Any, name: Hashable, build: Callable[[], charts.alt.TopLevelMixin],
               description: str) -> dict:
    """The Vega-Lite specification of the chart ``build`` makes of ``result``, labelled by
    ``description`` (`bnviz.charts.described_spec`), built once."""
    return once(result, ("chart", name),
                lambda: charts.described_spec(build(), description))


def kept_count() -> int:
    """How many results have views kept now (for tests and operators)."""
    with _lock:
        return len(_views)
