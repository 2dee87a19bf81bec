-- Units assigned per day of experiment_units, from its first to its last assignment day (0 on days without).
with span as (
    select cast(min(assigned_at) as date) as first_day, cast(max(assigned_at) as date) as last_day
    from experiment_units
),

days as (
    select cast(span.first_day + cast(r.i as integer) as date) as day
    from span, range(0, coalesce(span.last_day - span.first_day + 1, 0)) as r (i)
),

assigned as (
    select cast(assigned_at as date) as day, count(*) as units
    from experiment_units
    group by 1
)

select days.day, coalesce(assigned.units, 0)::bigint as units
from days
left join assigned on assigned.day = days.day
order by days.day
