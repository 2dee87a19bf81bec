-- Per-account churn features at a cut-off day, and the churn label over the following $horizon_days days.
-- $cutoff (DATE): the whole cut-off day is seen; features read only events (and users) strictly before
-- $cutoff + 1 day, so nothing after the cut-off can leak into them. label = 1 when the account has a cancel
-- event in ($cutoff, $cutoff + $horizon_days] (whole days: from $cutoff + 1 up to, not including,
-- $cutoff + 1 + $horizon_days).
-- Accounts: signed up on or before the cut-off and not cancelled on or before it (the eligible accounts).
-- Windows: the last 4 weeks = the 28 days ending on the cut-off day, the last 12 weeks = the 84 days.
-- plan = the plan of the latest upgrade/downgrade on or before the cut-off, else the plan of the first
-- invoice (accounts that start paid have no upgrade event), else the lowest-tier plan (free).
-- current_mrr_usd = the latest invoice of amount > 0 in the 31 days before the cut-off day's end (Metrics' MRR).
with bounds as (
    select
        $cutoff::date + 1 as seen_before,
        $cutoff::date + 1 + $horizon_days::integer as label_before,
        $cutoff::date + 1 - 28 as w4_from,
        $cutoff::date + 1 - 84 as w12_from,
        $cutoff::date + 1 - 31 as mrr_from
),

recent_users as (
    -- sessions of the last 12 weeks per user (a time-range scan: the events are stored in time order)
    select
        e.account_id,
        e.user_id,
        count(*) as sessions_12w,
        count(*) filter (where e.event_time >= b.w4_from) as sessions_4w
    from events as e, bounds as b
    where e.event_type = 'session'
        and e.event_time >= b.w12_from
        and e.event_time < b.seen_before
    group by e.account_id, e.user_id
),

recent as (
    select
        account_id,
        sum(sessions_4w) as sessions_4w,
        sum(sessions_12w) as sessions_12w,
        count(user_id) filter (where sessions_4w > 0) as active_users_4w,
        count(user_id) as active_users_12w
    from recent_users
    group by account_id
),

last_sessions as (
    select e.account_id, max(e.event_time) as last_session_at
    from events as e, bounds as b
    where e.event_type = 'session'
        and e.event_time < b.seen_before
    group by e.account_id
),

history as (
    -- account events (invoices, plan changes, cancels) before the cut-off: a few percent of the rows
    select
        e.account_id,
        count(*) filter (where e.event_type = 'invoice' and e.amount_usd > 0) as invoices,
        coalesce(sum(e.amount_usd) filter (where e.event_type = 'invoice' and e.amount_usd > 0), 0)
            as invoiced_usd,
        arg_max(e.amount_usd, e.event_time) filter (
            where e.event_type = 'invoice' and e.amount_usd > 0 and e.event_time >= b.mrr_from) as mrr_usd,
        arg_max(e.plan, e.event_time) filter (
            where e.event_type in ('upgrade', 'downgrade') and e.plan is not null) as changed_plan,
        arg_min(e.plan, e.event_time) filter (where e.event_type = 'invoice' and e.plan is not null)
            as first_invoice_plan,
        count(*) filter (where e.event_type = 'upgrade') as upgrades,
        count(*) filter (where e.event_type = 'downgrade') as downgrades,
        count(*) filter (where e.event_type = 'cancel') as cancels
    from events as e, bounds as b
    where e.event_type in ('invoice', 'upgrade', 'downgrade', 'cancel')
        and e.event_time < b.seen_before
    group by e.account_id
),

seats as (
    select u.account_id, count(*) as seats
    from users as u, bounds as b
    where u.signup_at < b.seen_before
    group by u.account_id
),

churned as (
    select distinct e.account_id
    from events as e, bounds as b
    where e.event_type = 'cancel'
        and e.event_time >= b.seen_before
        and e.event_time < b.label_before
),

lowest_plan as (
    select arg_min(plan, tier) as plan from plans
),

eligible as (
    select
        a.account_id,
        a.signup_date,
        coalesce(act.changed_plan, act.first_invoice_plan, lp.plan, 'free') as plan,
        r.sessions_4w,
        r.sessions_12w,
        r.active_users_4w,
        r.active_users_12w,
        ls.last_session_at,
        act.invoices,
        act.invoiced_usd,
        act.mrr_usd,
        act.upgrades,
        act.downgrades,
        s.seats
    from accounts as a
    cross join bounds as b
    cross join lowest_plan as lp
    left join history as act on act.account_id = a.account_id
    left join recent as r on r.account_id = a.account_id
    left join last_sessions as ls on ls.account_id = a.account_id
    left join seats as s on s.account_id = a.account_id
    where a.signup_date < b.seen_before
        and coalesce(act.cancels, 0) = 0
)

select
    e.account_id::bigint as account_id,
    (c.account_id is not null)::tinyint as label,
    e.plan,
    coalesce(p.tier, 0)::double as plan_tier,
    (b.seen_before - 1 - e.signup_date)::double as tenure_days,
    coalesce(e.seats, 0)::double as seats,
    coalesce(e.sessions_4w, 0)::double as sessions_4w,
    coalesce(e.sessions_12w, 0)::double as sessions_12w,
    coalesce(e.sessions_4w, 0) / 4.0 - coalesce(e.sessions_12w, 0) / 12.0 as sessions_trend,
    coalesce(e.active_users_4w, 0)::double as active_users_4w,
    coalesce(e.active_users_12w, 0)::double as active_users_12w,
    coalesce(e.active_users_4w / nullif(e.active_users_12w, 0), 0)::double as active_users_share_4w,
    coalesce(
        date_diff('second', e.last_session_at, b.seen_before::timestamp),
        date_diff('second', e.signup_date::timestamp, b.seen_before::timestamp)
    ) / 86400.0 as days_since_last_session,
    coalesce(e.invoices, 0)::double as invoices,
    coalesce(e.invoiced_usd, 0)::double as invoiced_usd,
    coalesce(e.mrr_usd, 0)::double as current_mrr_usd,
    coalesce(e.upgrades, 0)::double as upgrades,
    coalesce(e.downgrades, 0)::double as downgrades
from eligible as e
cross join bounds as b
left join churned as c on c.account_id = e.account_id
left join plans as p on p.plan = e.plan
order by e.account_id
