-- 008: generation runs (methods sft and sft_lora): eval.json's reply metrics and every judged reply, so later
-- comparisons (Compare's reply leaderboard, the Fine-tune page's best and worst replies) need no re-run.
-- task on runs says what a run was judged on: 'classification' (accuracy) or 'generation' (replies).
alter table runs add column task varchar;

-- One row per generation run: eval.json's flat generation metrics (base_* are the untrained base model's on the
-- same test prompts, NULL when the run did not compare with the base).
create table run_generation_eval (
    run_id varchar primary key,
    n_test_scored integer check (n_test_scored is null or n_test_scored >= 0),
    n_test_total integer check (n_test_total is null or n_test_total >= 0),
    val_loss double,
    perplexity double,
    rouge_l double check (rouge_l is null or rouge_l between 0 and 1),
    rouge_l_ci_low double,
    rouge_l_ci_high double,
    intent_match double check (intent_match is null or intent_match between 0 and 1),
    intent_match_ci_low double,
    intent_match_ci_high double,
    mean_prompt_tokens double check (mean_prompt_tokens is null or mean_prompt_tokens >= 0),
    mean_reply_tokens double check (mean_reply_tokens is null or mean_reply_tokens >= 0),
    mean_reference_tokens double check (mean_reference_tokens is null or mean_reference_tokens >= 0),
    placeholder_rate double check (placeholder_rate is null or placeholder_rate between 0 and 1),
    prefill_tokens_per_s double check (prefill_tokens_per_s is null or prefill_tokens_per_s >= 0),
    decode_tokens_per_s double check (decode_tokens_per_s is null or decode_tokens_per_s >= 0),
    generation_seconds double,
    generation_device varchar,
    tokenizer varchar,              -- the tokenizer that counted prompt and reply tokens (the run's model's)
    base_rouge_l double check (base_rouge_l is null or base_rouge_l between 0 and 1),
    base_rouge_l_ci_low double,
    base_rouge_l_ci_high double,
    base_intent_match double check (base_intent_match is null or base_intent_match between 0 and 1),
    base_intent_match_ci_low double,
    base_intent_match_ci_high double,
    base_mean_reply_tokens double,
    base_placeholder_rate double,
    base_decode_tokens_per_s double
);

-- One row per judged test request (generations.parquet): request, reference, fine-tuned and base replies.
create table run_generations (
    run_id varchar not null,
    id varchar not null,
    intent varchar,
    prompt varchar not null,
    reference varchar not null,
    reply varchar not null,
    prompt_tokens integer,
    reply_tokens integer,
    latency_s double,
    rouge_l double,
    intent_pred varchar,
    intent_match boolean,
    placeholders integer,
    base_reply varchar,
    base_reply_tokens integer,
    base_latency_s double,
    base_rouge_l double,
    base_intent_pred varchar,
    base_intent_match boolean,
    primary key (run_id, id)
);
