-- Activation and conversion funnel of the users whose first sign-up falls in [$start, $end].
-- Steps are nested: signed_up; activated (an activation event); active_week_2 (activated and a session on
-- day 7 to 13 after the sign-up day, calendar days, sign-up day = day 0); paying (also: the user's account
-- has an invoice with amount_usd > 0). Later steps look at all events: the range picks the sign-up cohort.
-- Sessions reduce to one bitstring of users per day (bit i = user id $user_min + i) in a single pass;
-- week 2 then reads 7 bits per cohort user instead of joining every session to its user's sign-up.
with user_firsts as (
    select
        user_id,
        min(account_id) as account_id,
        min(event_time) filter (where event_type = 'signup') as signup_at,
        bool_or(event_type = 'activation') as is_activated
    from metric_events
    where event_type in ('signup', 'activation')
        and user_id is not null
    group by user_id
),

cohort as (
    select user_id, account_id, signup_at::date as signup_day, is_activated
    from user_firsts
    where signup_at >= $start
        and signup_at < $end + 1
        and account_id in (select account_id from metric_scope)
),

active_days as (
    select
        event_time::date as day,
        bitstring_agg(user_id, $user_min, $user_max) as users
    from metric_events
    where event_type = 'session'
        and user_id is not null
        and event_time >= $start + 7
        and event_time < $end + 14
    group by day
),

week_2 as (
    select distinct c.user_id
    from cohort as c
    cross join range(7, 14) as w(days_after)
    inner join active_days as d on d.day = c.signup_day + w.days_after::integer
    where get_bit(d.users, (c.user_id - $user_min)::integer) = 1
),

paying_accounts as (
    select distinct account_id
    from metric_events
    where event_type = 'invoice'
        and amount_usd > 0
),

flags as (
    select
        c.is_activated,
        c.is_activated and w.user_id is not null as is_active_week_2,
        c.is_activated and w.user_id is not null and p.account_id is not null as is_paying
    from cohort as c
    left join week_2 as w on w.user_id = c.user_id
    left join paying_accounts as p on p.account_id = c.account_id
),

steps as (
    select 1 as step_order, 'signed_up' as step, count(*) as users from flags
    union all
    select 2, 'activated', count(*) filter (where is_activated) from flags
    union all
    select 3, 'active_week_2', count(*) filter (where is_active_week_2) from flags
    union all
    select 4, 'paying', count(*) filter (where is_paying) from flags
)

select
    step_order,
    step,
    users,
    users / nullif(lag(users) over (order by step_order), 0) as conversion_from_previous,
    users / nullif(first_value(users) over (order by step_order), 0) as conversion_from_signup
from steps
order by step_order
