-- Accounts inside the segment and plan filters (materialised once per report as temp table metric_scope).
-- A null parameter means 'all'. An account's plan is the plan on its latest upgrade, downgrade or invoice
-- up to the end of the range ('free' when it has none).
with plan_events as (
    select
        account_id,
        arg_max(plan, event_time) as plan
    from metric_events
    where event_type in ('upgrade', 'downgrade', 'invoice')
        and plan is not null
        and event_time < $end + 1
    group by account_id
),

filtered as (
    select a.account_id
    from metric_accounts as a
    left join plan_events as p on p.account_id = a.account_id
    where ($region is null or a.region = $region)
        and ($industry is null or a.industry = $industry)
        and ($company_size is null or a.company_size = $company_size)
        and ($plan is null or coalesce(p.plan, 'free') = $plan)
)

select account_id from filtered
