-- succeeded runs on one evaluation set, with what the leaderboard needs (measured figures and their provenance).
-- Every runs column but the large JSON documents: inference columns added by later migrations (robust
-- figures, spreads, the busy mark) reach the leaderboard without this query changing. Endpoint runs (method
-- 'endpoint') add their endpoint, the price they were run at and the tokens and requests they measured.
select
    * exclude (config_json, environment_json, eval_json),
    json_extract(config_json, '$.train_examples_per_class')::integer as train_examples_per_class,
    json_array_length(json_extract(eval_json, '$.label_names'))::integer as num_labels,
    json_extract(eval_json, '$.n_test_total')::integer as n_test_total,
    json_extract_string(config_json, '$.endpoint.base_url') as endpoint_base_url,
    json_extract_string(config_json, '$.endpoint.shots') as endpoint_shots,
    try_cast(json_extract_string(config_json, '$.price.input_per_m_usd') as double) as run_price_input_per_m_usd,
    try_cast(json_extract_string(config_json, '$.price.output_per_m_usd') as double) as run_price_output_per_m_usd,
    json_extract_string(config_json, '$.price.source') as run_price_source,
    json_extract_string(config_json, '$.price.as_of') as run_price_as_of,
    try_cast(json_extract_string(eval_json, '$.prompt_tokens_mean') as double) as endpoint_prompt_tokens,
    try_cast(json_extract_string(eval_json, '$.completion_tokens_mean') as double) as endpoint_completion_tokens,
    try_cast(json_extract_string(eval_json, '$.requests_sent') as integer) as endpoint_requests_sent,
    try_cast(json_extract_string(eval_json, '$.cache_hits') as integer) as endpoint_cache_hits,
    try_cast(json_extract_string(eval_json, '$.unparseable') as integer) as endpoint_unparseable,
    json_extract_string(eval_json, '$.measured_at') as endpoint_measured_at
from runs
where state = 'succeeded' and dataset = $dataset and accuracy is not null
order by finished_at, run_id
