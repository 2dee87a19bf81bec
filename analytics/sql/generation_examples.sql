-- the best and worst judged replies of one generation run by ROUGE-L (ties: by id), next to their references;
-- a reply is listed once even when the run judged fewer than 2 x $n requests
with ranked as (
    select
        *,
        row_number() over (order by rouge_l desc nulls last, id) as best_rank,
        row_number() over (order by rouge_l asc nulls last, id) as worst_rank
    from run_generations
    where run_id = $run_id and rouge_l is not null
),

picked as (
    select *, 'best' as side, best_rank as rank from ranked where best_rank <= $n
    union all
    select *, 'worst' as side, worst_rank as rank from ranked where worst_rank <= $n and best_rank > $n
)

select
    side, rank, id, intent, prompt, reference, reply, rouge_l, intent_pred, intent_match, placeholders,
    reply_tokens, base_reply, base_rouge_l, base_intent_match
from picked
order by side, rank
