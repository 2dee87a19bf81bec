-- evaluation sets for replies: datasets with at least one succeeded generation run, most runs first
select r.dataset, count(*) as runs, max(r.finished_at) as latest
from runs r
join run_generation_eval g using (run_id)
where r.state = 'succeeded'
group by r.dataset
order by runs desc, latest desc, r.dataset
