-- 006: how busy the machine was while a run's inference was measured (inference.json load_average_1m, cpu_count):
-- a benchmark on a shared, overloaded machine reads slower than the hardware is, and the Compare page says so.
alter table runs add column inference_load_average double;
alter table runs add column inference_cpu_count integer;
