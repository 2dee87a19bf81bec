-- budget lines linked to measured costs (a run's training $, a Compare candidate's serving $)
select
    link_id,
    stage_id,
    label,
    kind,
    run_id,
    dataset,
    candidate_key,
    requests_per_month,
    estimate_usd,
    is_sample
from roadmap_budget_links
order by stage_id, link_id
