-- Daily traffic into an experiment's step: distinct users with an event of type $event_type per day, over the
-- $days days ending on the last day of the events table (a day without any counts as 0).
with last_day as (
    select cast(max(event_time) as date) as day from main.events
),

days as (
    select cast(last_day.day - cast(r.i as integer) as date) as day
    from last_day, range(0, $days) as r (i)
    where last_day.day is not null
),

entering as (
    select cast(event_time as date) as day, count(distinct user_id) as units
    from main.events
    where event_type = $event_type
        and user_id is not null
        and event_time >= (select min(day) from days)
    group by 1
)

select days.day, coalesce(entering.units, 0)::bigint as units
from days
left join entering on entering.day = days.day
order by days.day
