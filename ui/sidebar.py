"""The sidebar: presets and a form with one control per configuration field."""

from __future__ import annotations

from typing import Any

import streamlit as st

from bnviz.config import ConfigError, ExperimentConfig, field_meta, field_names
from bnviz.gallery import GALLERY_SEEDS, Gallery
from bnviz.link import markdown_text
from bnviz.presets import PRESETS
from bnviz.sweep import LEARNING_RATES

TRAIN, PRESET = "train", "preset"
_KEY = "setting_"
_PRESET_CHOSEN = "preset_chosen"


def _load_into_widgets(config: ExperimentConfig) -> None:
    for name, value in config.to_dict().items():
        st.session_state[_KEY + name] = value


def _preset_config(name: str, gallery: Gallery | None) -> ExperimentConfig:
    return gallery.preset_config(PRESETS[name][0]) if gallery else PRESETS[name][0]


def _choose_preset(gallery: Gallery | None) -> None:
    name = st.session_state.get("preset")
    if name is not None:
        _load_into_widgets(_preset_config(name, gallery))
        st.session_state[_PRESET_CHOSEN] = name


def _show_control(name: str) -> Any:
    meta = field_meta(name)
    key, label, help_text = _KEY + name, meta["label"], meta["help"]
    if meta["type"] is bool:
        return st.toggle(label, key=key, help=help_text)
    if meta["choices"] and len(meta["choices"]) > 3:  # too many for one row of buttons
        return st.selectbox(label, meta["choices"], key=key, help=help_text)
    if meta["choices"]:
        return st.segmented_control(label, meta["choices"], key=key, help=help_text) \
            or meta["default"]
    if meta["log_scale"]:
        current = st.session_state[key]
        options = sorted({*LEARNING_RATES, current})
        return st.select_slider(label, options, key=key, help=help_text,
                                format_func=lambda v: f"{v:g}")
    if name == "epochs":
        return st.slider(label, meta["min"], meta["max"], key=key, help=help_text)
    return st.number_input(label, int(meta["min"]), int(meta["max"]), step=1, key=key,
                           help=help_text)


_LOADED_FOR = "settings_loaded_for"  # session state: what the widgets were last loaded for
_UNSET = object()


def show_experiment_sidebar(url_config: ExperimentConfig, gallery: Gallery | None,
                            can_train: bool = True, hidden: tuple[str, ...] = (),
                            loaded_for: object = None) -> tuple[ExperimentConfig, str]:
    """Draw presets and the settings form; returns the chosen config and what was asked:
    `TRAIN` (the form's button), `PRESET` (show that preset's result, training it only if
    none is at hand) or "" (nothing).

    Nothing trains until Train (or a preset) is pressed: the form holds changes back
    until then. The settings named in ``hidden`` (a lesson's step, a ``hide=`` link) are
    not drawn and keep ``url_config``'s values; with any hidden, no presets either (they
    would change them). The widgets take ``url_config``'s values on the first run and
    whenever ``loaded_for`` (a lesson's step) changes.
    """
    # Keyed on a sentinel of our own, not on a widget's state: Streamlit drops the state of a
    # widget that a run did not draw (a setting a lesson hides), which would reload every
    # other run and undo what the student had just chosen.
    if st.session_state.get(_LOADED_FOR, _UNSET) != loaded_for:
        _load_into_widgets(url_config)
        st.session_state[_LOADED_FOR] = loaded_for
    st.sidebar.header("Experiment")
    if not hidden:
        st.sidebar.pills(
            "Presets", list(PRESETS), key="preset", on_change=_choose_preset, args=(gallery,),
            help=f"A preset shows its result at once: precomputed with {GALLERY_SEEDS} seeds, "
            "or trained now if this server has none. " + " ".join(
                f"**{name}**: {description}" for name, (_, description) in PRESETS.items()),
        )
        st.sidebar.caption("Or set each knob below and press Train.")
    shown = [name for name in field_names() if name not in hidden]
    if not shown:
        return url_config, ""
    with st.sidebar.form("settings"):
        values = {**url_config.to_dict(), **{name: _show_control(name) for name in shown}}
        pressed = st.form_submit_button(
            "Train", type="primary", width="stretch", disabled=not can_train,
            help="Shows the result at once when this server already has it (precomputed, or "
            "cut from a longer run of the same settings), and trains otherwise." if can_train
            else "This server has too little memory to train.")
    preset = st.session_state.pop(_PRESET_CHOSEN, None)
    if preset is not None:
        return _preset_config(preset, gallery), PRESET
    if pressed:
        try:
            return ExperimentConfig.from_mapping(values), TRAIN
        except ConfigError as error:  # settings each valid, together too large (the work cap)
            st.sidebar.error(f"Not trained: {markdown_text(error.message, 300)}. Lower the "
                             "epochs, the training images or the seeds.")
    return url_config, ""
