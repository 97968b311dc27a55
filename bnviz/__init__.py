"""bnviz: batch normalisation explained by a baseline CNN and a BN CNN trained side by side.

Everything here is independent of Streamlit: configuration, data, models, training, results,
charts and the command line. The page lives in ``streamlit_app.py`` and ``ui/``.
"""
