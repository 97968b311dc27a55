"""The floor of first sight (`bench/first_sight.py --floor`): a Streamlit page with nothing
but the landing page's two learning-curve charts in a tab, the same specifications the page
sends. What Streamlit's frontend and Vega take to draw them is as fast as the landing page's
first chart can come; the rest of its wait is the rest of the page."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bnviz import charts, describe
from bnviz.comparison import ComparisonRequest
from bnviz.gallery import Gallery
from bnviz.presets import LANDING_PRESET, PRESETS
from ui.sections import CURVE_HEIGHT


@st.cache_resource
def landing_specs() -> list[dict]:
    """The landing result's two learning-curve specifications, as the page builds them."""
    gallery = Gallery()
    result = gallery.load(ComparisonRequest(gallery.preset_config(PRESETS[LANDING_PRESET][0])))
    return [charts.described_spec(charts.learning_curve_panel(result.history, metric,
                                                              CURVE_HEIGHT),
                                  describe.curves(result.history, metric))
            for metric in charts.METRICS]


st.set_page_config(layout="wide")
with st.tabs(["Learning curves", "Nothing else"])[0]:
    for column, spec in zip(st.columns(2), landing_specs(), strict=True):
        with column:
            st.vega_lite_chart(spec, theme="streamlit")
