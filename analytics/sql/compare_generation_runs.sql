-- succeeded generation runs (sft, sft_lora) on one evaluation set with their reply metrics, measured tokens/s
-- and real reply lengths: what the reply leaderboard prices
select
    r.run_id, r.method, r.model, r.dataset, r.finished_at, r.train_seconds, r.hardware, r.device,
    g.* exclude (run_id)
from runs r
join run_generation_eval g using (run_id)
where r.state = 'succeeded' and r.dataset = $dataset
order by r.finished_at, r.run_id
