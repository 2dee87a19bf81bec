"""Data: being built."""

import streamlit as st

from pages import _shared as shared

shared.start_page("Data")
st.info("Coming soon.", icon=":material/construction:")
