-- evaluation sets (datasets) with at least one succeeded run or API candidate, most populated first
with run_counts as (
    select dataset, count(*) as runs, max(finished_at) as latest
    from runs
    where state = 'succeeded' and accuracy is not null
    group by dataset
),

api_counts as (
    select dataset, count(*) as api_candidates, max(entered_at) as latest
    from api_candidates
    group by dataset
)

select
    coalesce(r.dataset, a.dataset) as dataset,
    coalesce(r.runs, 0) as runs,
    coalesce(a.api_candidates, 0) as api_candidates,
    greatest(r.latest, a.latest) as latest
from run_counts r
full outer join api_counts a using (dataset)
order by runs + api_candidates desc, latest desc, dataset
