"""Home: what is in the workspace and where to go next."""

import streamlit as st

from pages._shared import finetune as finetune_view
from pages._shared import page, workspace
from pages._shared import runs as runs_view

page.start_page("Strategy Lab", "Market data, product metrics and model cost-vs-accuracy in one workspace.")
summary = workspace.workspace_summary(workspace.generation())
runs = runs_view.run_count()
page.sample_badge()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Tables", len(summary.tables))
c2.metric("Product events", f"{summary.events:,}")
c3.metric("Accounts", f"{summary.accounts:,}")
c4.metric("Model runs", runs)
if summary.first_event:
    st.caption(f"Event log spans {summary.first_event} to {summary.last_event}.")

st.subheader("Tables")
st.dataframe(summary.tables, hide_index=True, width="stretch")
st.subheader("Datasets for models")
st.dataframe(finetune_view.dataset_catalog(), hide_index=True, width="stretch")

st.subheader("Where next")
n1, n2, n3, n4 = st.columns(4)
with n1:
    st.page_link("pages/data.py", label="Import your data", icon=":material/upload:")
    st.caption("CSV, TSV, Parquet, Excel or JSONL into a table; explore with read-only SQL.")
with n2:
    st.page_link("pages/market.py", label="Size the market", icon=":material/public:")
    st.caption("TAM, SAM and SOM both ways, sensitivity, competitors.")
with n3:
    st.page_link("pages/metrics.py", label="Read product metrics", icon=":material/monitoring:")
    st.caption("Active users, funnel, retention cohorts, MRR, churn, NRR.")
with n4:
    st.page_link("pages/finetune.py", label="Fine-tune a model", icon=":material/model_training:")
    st.caption("Train and measure models; compare cost and accuracy.")
