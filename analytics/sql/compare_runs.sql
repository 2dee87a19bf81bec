-- succeeded runs on one evaluation set, with what the leaderboard needs (measured figures and their provenance)
select
    run_id, method, model, dataset, finished_at, train_seconds, hardware, device,
    accuracy, accuracy_ci_low, accuracy_ci_high, macro_f1, n_test,
    p50_ms, p95_ms, throughput_per_s, inference_hardware, inference_measured_at,
    model_params, tokens_per_request, api_input_tokens, api_output_tokens, api_tokenizer,
    inference_load_average, inference_cpu_count,
    json_extract(config_json, '$.train_examples_per_class')::integer as train_examples_per_class,
    json_array_length(json_extract(eval_json, '$.label_names'))::integer as num_labels,
    json_extract(eval_json, '$.n_test_total')::integer as n_test_total
from runs
where state = 'succeeded' and dataset = $dataset and accuracy is not null
order by finished_at, run_id
