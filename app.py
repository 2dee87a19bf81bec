"""Strategy Lab: page config and navigation. Every page lives in pages/."""

import streamlit as st

st.set_page_config(page_title="Strategy Lab", page_icon="data/icon.png", layout="wide")

st.navigation(
    {
        "Workspace": [
            st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
            st.Page("pages/data.py", title="Data", icon=":material/database:"),
        ],
        "Analytics": [
            st.Page("pages/market.py", title="Market", icon=":material/public:"),
            st.Page("pages/metrics.py", title="Metrics", icon=":material/monitoring:"),
            st.Page("pages/churn.py", title="Churn", icon=":material/person_remove:"),
        ],
        "Models": [
            st.Page("pages/finetune.py", title="Fine-tune", icon=":material/model_training:"),
            st.Page("pages/playground.py", title="Playground", icon=":material/chat:"),
            st.Page("pages/compare.py", title="Compare", icon=":material/balance:"),
        ],
        "Strategy": [
            st.Page("pages/roadmap.py", title="Roadmap", icon=":material/timeline:"),
            st.Page("pages/business_case.py", title="Business case", icon=":material/request_quote:"),
            st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
        ],
    }
).run()
