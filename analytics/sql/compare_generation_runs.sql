-- succeeded generation runs (sft, sft_lora, and endpoint runs judged on replies) on one evaluation set with their
-- reply metrics, measured tokens/s and real reply lengths: what the reply leaderboard prices. Endpoint runs add
-- their endpoint, the price they were run at, the tokens their responses reported and their client latency.
select
    r.run_id, r.method, r.model, r.dataset, r.finished_at, r.train_seconds, r.hardware, r.device,
    json_extract_string(r.config_json, '$.endpoint.base_url') as endpoint_base_url,
    try_cast(json_extract_string(r.config_json, '$.price.input_per_m_usd') as double) as run_price_input_per_m_usd,
    try_cast(json_extract_string(r.config_json, '$.price.output_per_m_usd') as double) as run_price_output_per_m_usd,
    json_extract_string(r.config_json, '$.price.source') as run_price_source,
    json_extract_string(r.config_json, '$.price.as_of') as run_price_as_of,
    try_cast(json_extract_string(r.eval_json, '$.prompt_tokens_mean') as double) as endpoint_prompt_tokens,
    try_cast(json_extract_string(r.eval_json, '$.completion_tokens_mean') as double) as endpoint_completion_tokens,
    try_cast(json_extract_string(r.eval_json, '$.requests_sent') as integer) as endpoint_requests_sent,
    try_cast(json_extract_string(r.eval_json, '$.latency_p50_ms') as double) as endpoint_p50_ms,
    json_extract_string(r.eval_json, '$.measured_at') as endpoint_measured_at,
    g.* exclude (run_id)
from runs r
join run_generation_eval g using (run_id)
where r.state = 'succeeded' and r.dataset = $dataset
order by r.finished_at, r.run_id
