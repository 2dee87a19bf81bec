-- DAU, WAU and MAU for every day of [$start, $end]: distinct users with a session that day, in the rolling
-- 7 days and in the rolling 28 days ending that day. stickiness = dau / mau.
-- Warm-up: a window that reaches back before the source's first event is not full yet (it would count a
-- few days' users as a month's, and stickiness would start near 100 %). WAU is null until the 7th day of
-- data, MAU and stickiness until the 28th; window_full says whether the day's 28-day window is full.
-- Each day's users are one bitstring (bit i = user id $user_min + i); WAU and MAU are popcounts of the
-- OR of the last 7 and 28 days' bitstrings. The filters apply as one bitstring of the users in scope, so
-- the session rows are never joined.
with first_event as (
    select min(event_time)::date as day
    from metric_events
),

scope_users as (
    select bitstring_agg(user_id, $user_min, $user_max) as users
    from metric_users
    where account_id in (select account_id from metric_scope)
),

active_days as (
    select
        event_time::date as day,
        bitstring_agg(user_id, $user_min, $user_max) as users
    from metric_events
    where event_type = 'session'
        and user_id is not null
        and event_time >= $start - 27
        and event_time < $end + 1
    group by day
),

scoped_days as (
    select d.day, d.users & s.users as users
    from active_days as d
    cross join scope_users as s
),

calendar as (
    select range::date as day
    from range(($start - 27)::timestamp, ($end + 1)::timestamp, interval 1 day)
),

windows as (
    select
        c.day,
        bit_count(d.users) as dau,
        bit_count(bit_or(d.users) over (order by c.day rows between 6 preceding and current row)) as wau,
        bit_count(bit_or(d.users) over (order by c.day rows between 27 preceding and current row)) as mau
    from calendar as c
    left join scoped_days as d on d.day = c.day
)

select
    w.day,
    coalesce(w.dau, 0) as dau,
    case when w.day >= f.day + 6 then coalesce(w.wau, 0) end as wau,
    case when w.day >= f.day + 27 then coalesce(w.mau, 0) end as mau,
    case when w.day >= f.day + 27 then coalesce(w.dau, 0) / nullif(w.mau, 0) end as stickiness,
    w.day >= f.day + 27 as window_full
from windows as w
cross join first_event as f
where w.day >= $start
order by w.day
