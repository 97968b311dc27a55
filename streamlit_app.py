"""bnviz: batch normalisation, explained by two CNNs trained side by side."""

import streamlit as st

st.set_page_config(page_title="bnviz: batch normalisation explained", layout="wide")
st.title("Batch normalisation, side by side")
st.info("The interactive page is on its way. Meanwhile: `python -m bnviz run --out DIR`.")
