-- per-example outcome of a small and a big candidate on the test texts both scored
-- (a candidate is a run, or an API candidate with imported predictions)
with small as (
    select text_id, confidence, correct from run_predictions where run_id = $small_run_id
),

big_run as (
    select text_id, correct from run_predictions where run_id = $big_run_id
),

big_api as (
    select text_id, correct from api_predictions where candidate_id = $big_candidate_id
),

big as (
    select * from big_run
    union all
    select * from big_api
)

select s.text_id, s.confidence as small_confidence, s.correct as small_correct, b.correct as big_correct
from small s
inner join big b using (text_id)
where s.confidence is not null
order by s.text_id
