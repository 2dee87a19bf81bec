-- succeeded runs on one evaluation set, with what the leaderboard needs (measured figures and their provenance).
-- Every runs column but the large JSON documents: inference columns added by later migrations (robust
-- figures, spreads, the busy mark) reach the leaderboard without this query changing.
select
    * exclude (config_json, environment_json, eval_json),
    json_extract(config_json, '$.train_examples_per_class')::integer as train_examples_per_class,
    json_array_length(json_extract(eval_json, '$.label_names'))::integer as num_labels,
    json_extract(eval_json, '$.n_test_total')::integer as n_test_total
from runs
where state = 'succeeded' and dataset = $dataset and accuracy is not null
order by finished_at, run_id
