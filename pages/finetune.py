"""Fine-tune: placeholder until the model-pages issue lands."""

import streamlit as st

from pages import _shared as shared

shared.start_page("Fine-tune")
st.info(
    "Coming soon: launch and monitor fine-tuning jobs from the browser. Until then the model engine runs "
    "from the command line: `python -m models train --help`.",
    icon=":material/construction:",
)
