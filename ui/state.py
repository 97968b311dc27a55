"""Server-wide objects and the link (URL query) that holds the configuration."""

from __future__ import annotations

import logging
import os

import streamlit as st

from bnviz.config import ConfigError, ExperimentConfig
from bnviz.jobs import JobManager
from bnviz.results import ResultsStore, default_cache_dir
from bnviz.worker import default_trainer

RUN_PARAM = "run"


@st.cache_resource
def job_manager(cache_dir: str, max_running: int) -> JobManager:
    """The process-wide job manager: one per results directory, shared by every session."""
    logger = logging.getLogger("bnviz")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return JobManager(ResultsStore(cache_dir), max_running=max_running,
                      trainer=default_trainer())


def shared_job_manager() -> JobManager:
    """The job manager for this server's settings (``BNVIZ_CACHE_DIR``, ``BNVIZ_MAX_JOBS``)."""
    try:
        max_running = int(os.environ.get("BNVIZ_MAX_JOBS", "1"))
    except ValueError:
        max_running = 1
    return job_manager(str(default_cache_dir()), max_running)


def config_from_url() -> tuple[ExperimentConfig, list[ConfigError], bool]:
    """The configuration in the link, the problems found in it, and whether it asks to run.

    Bad or unknown parameters are reported and replaced by their defaults.
    """
    values = {key: st.query_params[key] for key in st.query_params}
    run = values.pop(RUN_PARAM, "0").strip().lower() in ("1", "true", "yes")
    config, problems = ExperimentConfig.from_mapping_lenient(values)
    return config, problems, run


def write_url(config: ExperimentConfig) -> None:
    """Put the configuration in the link, so that copying it shares these settings."""
    st.query_params.from_dict(config.to_mapping())
