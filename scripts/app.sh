#!/usr/bin/env bash
# Run the app: set up .venv on first use, then serve streamlit_app.py.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" requirements.txt
exec streamlit run streamlit_app.py "$@"
