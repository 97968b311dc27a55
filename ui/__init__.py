"""Streamlit building blocks of the page (the only package that imports streamlit)."""
