"""What only the pages need, beside them: Streamlit caching, the access gate and page-only adapters.

- `workspace`: the app's one workspace, `generation()`/`changed()` (every cached call is keyed by the
  generation, so no page shows stale data), workspace-wide reads (summary, columns, prices).
- `gate`: the password gate and the open-network warning; `page`: `start_page` (gate, job sync, sidebar,
  title), `sample_badge`, `show_error`.
- `runs`: the job queue tick and run-folder ingest every page triggers; run lists.
- One module per page's cached calls: `data`, `market`, `metrics`, `finetune`, `compare`, `playground`.
- Page-only adapters: `forms` (Fine-tune form <-> TrainConfig, uploads), `playground_calls` (timed calls).

These are the only modules that use Streamlit caching; none imports torch at module level.
"""
