-- Monthly retention cohorts: users by sign-up month x months since sign-up, and the share of the cohort
-- with at least one session in that calendar month. Cohorts are the users whose first sign-up falls in
-- [$start, $end]; activity is counted through $end.
-- Sets of users are bitstrings (bit i = user id $user_min + i), so 10M session rows reduce to one
-- bitstring per month in a single pass, and each cell is the popcount of cohort AND month.
with signups as (
    select
        user_id,
        min(account_id) as account_id,
        min(event_time) as signup_at
    from metric_events
    where event_type = 'signup'
        and user_id is not null
    group by user_id
    having min(event_time) >= $start
        and min(event_time) < $end + 1
),

cohorts as (
    select
        year(signup_at) * 12 + month(signup_at) - 1 as cohort_idx,
        count(*) as cohort_users,
        bitstring_agg(user_id, $user_min, $user_max) as users
    from signups
    where account_id in (select account_id from metric_scope)
    group by cohort_idx
),

active_months as (
    select
        year(event_time) * 12 + month(event_time) - 1 as month_idx,
        bitstring_agg(user_id, $user_min, $user_max) as users
    from metric_events
    where event_type = 'session'
        and user_id is not null
        and event_time >= date_trunc('month', $start)
        and event_time < $end + 1
    group by month_idx
),

grid as (
    select
        cohort_idx,
        cohort_users,
        users,
        unnest(range(0, year($end) * 12 + month($end) - cohort_idx)) as months_since_signup
    from cohorts
),

cells as (
    select
        g.cohort_idx,
        g.months_since_signup,
        g.cohort_users,
        coalesce(bit_count(g.users & a.users), 0) as active_users
    from grid as g
    left join active_months as a on a.month_idx = g.cohort_idx + g.months_since_signup
)

select
    make_date((cohort_idx // 12)::integer, (cohort_idx % 12 + 1)::integer, 1) as cohort_month,
    months_since_signup::integer as months_since_signup,
    cohort_users,
    active_users,
    active_users / cohort_users as retention
from cells
order by cohort_month, months_since_signup
