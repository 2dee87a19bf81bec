-- Monthly revenue for every month of [$start, $end], from invoices (monthly billing: an invoice pays for a
-- month of service). An account's MRR in a month is its latest invoice dated in the 31 days before the
-- month's snapshot (the month's end, or the range end if earlier); 0 without one. arr_usd = 12 x mrr_usd.
-- invoiced_usd is plain cash: the sum of invoices dated in the month.
-- Movements per account against the previous month: new (had 0), expansion, contraction and churned (now 0),
-- with contraction and churned negative, so mrr = previous mrr + new + expansion + contraction + churned.
-- logo_churn = churned accounts / last month's paying accounts; revenue_churn = -(churned + contraction) /
-- last month's MRR; nrr_1m = this month's MRR from last month's payers / last month's MRR; nrr_12m the same
-- against 12 months earlier (null while that month had no MRR). Invoices of amount 0 are ignored.
with bounds as (
    select
        year($start) * 12 + month($start) - 1 as start_idx,
        year($end) * 12 + month($end) - 1 as end_idx
),

months as (
    select
        m.month_idx,
        make_date((m.month_idx // 12)::integer, (m.month_idx % 12 + 1)::integer, 1) as month_start,
        least(
            make_date(((m.month_idx + 1) // 12)::integer, ((m.month_idx + 1) % 12 + 1)::integer, 1),
            $end + 1
        )::timestamp as snapshot_at
    from bounds as b,
        (select unnest(range(b.start_idx - 12, b.end_idx + 1)) as month_idx) as m
),

invoices as (
    select account_id, event_time, amount_usd
    from metric_events
    where event_type = 'invoice'
        and amount_usd > 0
        and event_time >= date_trunc('month', $start) - interval 14 month
        and event_time < $end + 1
        and account_id in (select account_id from metric_scope)
),

invoiced as (
    select
        year(event_time) * 12 + month(event_time) - 1 as month_idx,
        sum(amount_usd) as invoiced_usd
    from invoices
    group by 1
),

account_mrr as (
    select
        i.account_id,
        m.month_idx,
        arg_max(i.amount_usd, i.event_time) as mrr_usd
    from invoices as i
    inner join months as m
        on i.event_time >= m.snapshot_at - interval 31 day
        and i.event_time < m.snapshot_at
    group by all
),

moves as (
    select
        coalesce(c.month_idx, p.month_idx + 1) as month_idx,
        coalesce(c.mrr_usd, 0) as mrr_usd,
        coalesce(p.mrr_usd, 0) as prev_mrr_usd
    from account_mrr as c
    full outer join account_mrr as p
        on p.account_id = c.account_id
        and p.month_idx + 1 = c.month_idx
),

monthly as (
    select
        month_idx,
        sum(mrr_usd) as mrr_usd,
        sum(prev_mrr_usd) as prev_mrr_usd,
        sum(mrr_usd) filter (where prev_mrr_usd = 0) as new_mrr_usd,
        sum(mrr_usd - prev_mrr_usd) filter (where prev_mrr_usd > 0 and mrr_usd > prev_mrr_usd) as expansion_mrr_usd,
        sum(mrr_usd - prev_mrr_usd) filter (where mrr_usd > 0 and mrr_usd < prev_mrr_usd) as contraction_mrr_usd,
        -sum(prev_mrr_usd) filter (where mrr_usd = 0) as churned_mrr_usd,
        count(*) filter (where mrr_usd > 0) as paying_accounts,
        count(*) filter (where prev_mrr_usd > 0) as prev_paying_accounts,
        count(*) filter (where prev_mrr_usd > 0 and mrr_usd = 0) as churned_accounts
    from moves
    group by month_idx
),

year_ago as (
    select
        p.month_idx + 12 as month_idx,
        sum(coalesce(c.mrr_usd, 0)) / nullif(sum(p.mrr_usd), 0) as nrr_12m
    from account_mrr as p
    left join account_mrr as c
        on c.account_id = p.account_id
        and c.month_idx = p.month_idx + 12
    group by 1
)

select
    m.month_start as month,
    coalesce(r.mrr_usd, 0) as mrr_usd,
    12 * coalesce(r.mrr_usd, 0) as arr_usd,
    coalesce(i.invoiced_usd, 0) as invoiced_usd,
    coalesce(r.new_mrr_usd, 0) as new_mrr_usd,
    coalesce(r.expansion_mrr_usd, 0) as expansion_mrr_usd,
    coalesce(r.contraction_mrr_usd, 0) as contraction_mrr_usd,
    coalesce(r.churned_mrr_usd, 0) as churned_mrr_usd,
    coalesce(r.paying_accounts, 0) as paying_accounts,
    coalesce(r.churned_accounts, 0) as churned_accounts,
    r.churned_accounts / nullif(r.prev_paying_accounts, 0) as logo_churn,
    (0 - coalesce(r.churned_mrr_usd, 0) - coalesce(r.contraction_mrr_usd, 0)) / nullif(r.prev_mrr_usd, 0)
        as revenue_churn,
    (r.prev_mrr_usd + coalesce(r.expansion_mrr_usd, 0) + coalesce(r.contraction_mrr_usd, 0)
        + coalesce(r.churned_mrr_usd, 0)) / nullif(r.prev_mrr_usd, 0) as nrr_1m,
    y.nrr_12m
from months as m
cross join bounds as b
left join monthly as r on r.month_idx = m.month_idx
left join invoiced as i on i.month_idx = m.month_idx
left join year_ago as y on y.month_idx = m.month_idx
where m.month_idx between b.start_idx and b.end_idx
order by m.month_idx
