"""Playground: placeholder until the model-pages issue lands."""

import streamlit as st

from pages import _shared as shared

shared.start_page("Playground")
st.info(
    "Coming soon: try trained models side by side on your own text. Until then: "
    "`python -m models predict --help`.",
    icon=":material/construction:",
)
