-- DAU, WAU and MAU for every day of [$start, $end]: distinct users with a session that day, in the rolling
-- 7 days and in the rolling 28 days ending that day. stickiness = dau / mau.
-- Each day's users are one bitstring (bit i = user id $user_min + i); WAU and MAU are popcounts of the
-- OR of the last 7 and 28 days' bitstrings. The filters apply as one bitstring of the users in scope, so
-- the session rows are never joined.
with scope_users as (
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
    day,
    coalesce(dau, 0) as dau,
    coalesce(wau, 0) as wau,
    coalesce(mau, 0) as mau,
    coalesce(dau, 0) / nullif(mau, 0) as stickiness
from windows
where day >= $start
order by day
