-- 007: robust inference figures from the queue's measure jobs (inference.json of models.serving.benchmark_record):
-- p50 is the median of per-repeat medians; best and spread ((max - min) / median across repeats) say how well
-- it held still; busy says another process clearly competed for the CPU while it was measured.
alter table runs add column p50_best_ms double;
alter table runs add column p50_spread double;
alter table runs add column throughput_best_per_s double;
alter table runs add column throughput_spread double;
alter table runs add column inference_repeats integer;
alter table runs add column inference_threads integer;
alter table runs add column inference_busy boolean;
alter table runs add column inference_measured_by varchar;
alter table runs add column inference_load_average_start double;
alter table runs add column inference_others_cpu_share double;
