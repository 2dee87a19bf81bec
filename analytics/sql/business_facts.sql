-- What the business case reads from the workspace for one billing month ($month: its first day): paying
-- accounts (an invoice in the month), seats per paying account (invoice amount / the plan's price per seat),
-- the seat-weighted price per seat of the plan mix, invoiced revenue, and sessions per paying account (the
-- product's usage, which becomes model requests per customer).
with invoices as (
    select e.account_id, e.plan, e.amount_usd, p.price_per_seat_usd,
           e.amount_usd / p.price_per_seat_usd as seats
    from events e
    join plans p using (plan)
    where e.event_type = 'invoice' and p.price_per_seat_usd > 0
      and e.event_time >= $month and e.event_time < $month + interval 1 month
),
per_account as (
    select account_id, sum(amount_usd) as invoiced_usd, sum(seats) as seats
    from invoices
    group by account_id
),
sessions as (
    select count(*) as sessions
    from events e
    where e.event_type = 'session'
      and e.event_time >= $month and e.event_time < $month + interval 1 month
      and e.account_id in (select account_id from per_account)
)
select
    count(*) as paying_accounts,
    sum(invoiced_usd) as invoiced_usd,
    avg(seats) as seats_per_account,
    sum(invoiced_usd) / nullif(sum(seats), 0) as price_per_seat_usd,
    (select sessions from sessions) as sessions,
    (select sessions from sessions) / nullif(count(*), 0) as sessions_per_account
from per_account
