-- the newest load test's figures per run and concurrency level (serving.json keeps every record)
select * exclude (newest)
from (
    select
        *,
        row_number() over (partition by run_id, concurrency order by measured_at desc) as newest
    from serving_levels
)
where newest = 1
order by run_id, concurrency
