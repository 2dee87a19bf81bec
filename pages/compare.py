"""Compare: placeholder until the decision-wing issue lands."""

import streamlit as st

from pages import _shared as shared

shared.start_page("Compare")
st.info(
    "Coming soon: cost against accuracy for every model you trained, API prices, break-even volumes and "
    "a decision memo. No numbers are shown here until they are measured.",
    icon=":material/construction:",
)
