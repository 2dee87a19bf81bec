"""Home: what to do first (the quick demo, the next steps), then what is in the workspace."""

import streamlit as st

from analytics.money import format_count
from models.errors import StratLabModelError
from pages._shared import compare as compare_view
from pages._shared import finetune as finetune_view
from pages._shared import page, workspace
from pages._shared import runs as runs_view

page.start_page("Strategy Lab", "Market data, product metrics and model cost-vs-accuracy in one workspace.")
summary = workspace.workspace_summary(workspace.generation())

# 1. What to do: the quick demo (started here through the Compare page's own function), then the next steps.
with st.container(border=True):
    pitch, action = st.columns([3, 2], vertical_alignment="center")
    pitch.markdown("**Build or buy?** The quick demo trains three real models on a BANKING77 subset "
                   "(TF-IDF, a linear probe, a fine-tuned MiniLM) and puts their measured accuracy next to "
                   "what each costs to serve, on the Compare page.")
    active = compare_view.demo_jobs()
    with action:
        if active:
            st.caption(f":material/hourglass_top: Quick demo running: {len(active)} candidate(s) to finish.")
            st.page_link("pages/compare.py", label="Watch it on Compare", icon=":material/balance:")
        elif st.button("Run the quick demo", type="primary", icon=":material/play_arrow:", key="home_demo",
                       help="Queues the demo's training jobs (they keep running with the tab closed) "
                            "and opens Compare, where the candidates appear as they land."):
            try:
                compare_view.submit_quick_demo()
            except StratLabModelError as e:
                page.show_error(e)
            else:
                st.switch_page("pages/compare.py")
        else:
            st.page_link("pages/compare.py", label="Open Compare", icon=":material/balance:")

STEPS = (
    ("pages/data.py", "Import your data", ":material/upload:",
     "CSV, TSV, Parquet, Excel or JSONL into a table; explore with read-only SQL."),
    ("pages/market.py", "Size the market", ":material/public:", "TAM, SAM and SOM both ways, sensitivity, "
     "competitors."),
    ("pages/metrics.py", "Read product metrics", ":material/monitoring:",
     "Active users, funnel, retention cohorts, MRR, churn, NRR."),
    ("pages/finetune.py", "Fine-tune a model", ":material/model_training:",
     "Train a classifier on a catalog dataset or your file; jobs run in the background."),
    ("pages/playground.py", "Try models", ":material/chat:",
     "Trained classifiers side by side on your text, and a small local LLM."),
    ("pages/compare.py", "Compare build vs buy", ":material/balance:",
     "Measured accuracy against serving cost; a memo to share."),
)
st.subheader("Next steps")
for row in (STEPS[:3], STEPS[3:]):
    for column, (target, label, icon, note) in zip(st.columns(3), row, strict=True):
        with column:
            st.page_link(target, label=label, icon=icon)
            st.caption(note)

# 2. Headline figures, then the user's tables; app-internal tables and the dataset catalog folded away.
page.sample_badge()
user_tables, app_tables = summary.user_tables, summary.app_tables
c1, c2, c3, c4 = st.columns(4)
c1.metric("Your tables", format_count(len(user_tables)), help=f"Plus {len(app_tables)} the app keeps.")
c2.metric("Product events", format_count(summary.events, compact=True),
          help=f"{format_count(summary.events)} rows in `events`.")
c3.metric("Accounts", format_count(summary.accounts, compact=True),
          help=f"{format_count(summary.accounts)} rows in `accounts`.")
c4.metric("Model runs", format_count(runs_view.run_count()), help="Run folders on disk.")
if summary.first_event:
    st.caption(f"Event log spans {summary.first_event} to {summary.last_event}.")

st.subheader("Your tables")
st.dataframe(workspace.display_tables(user_tables), hide_index=True, width="stretch")
with st.expander(f"App-internal tables ({len(app_tables)}: runs, jobs, prices, migrations...)"):
    st.dataframe(workspace.display_tables(app_tables), hide_index=True, width="stretch")
with st.expander("Datasets for models (the Fine-tune catalog)"):
    st.dataframe(finetune_view.dataset_catalog(), hide_index=True, width="stretch")
