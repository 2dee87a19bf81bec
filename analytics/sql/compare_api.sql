-- hosted-API candidates on one evaluation set, joined to their price row
with candidates as (
    select * from api_candidates where dataset = $dataset
)

select
    c.candidate_id, c.name, c.dataset, c.price_id, c.accuracy, c.macro_f1, c.n_eval, c.accuracy_source,
    c.input_tokens_per_request, c.output_tokens_per_request, c.matched_run_id, c.entered_at,
    p.name as price_name, p.provider, p.input_per_m_usd, p.output_per_m_usd, p.as_of, p.source as price_source
from candidates c
left join prices p using (price_id)
order by c.entered_at, c.candidate_id
