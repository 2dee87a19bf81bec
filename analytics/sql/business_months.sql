-- Billing months with at least one invoice, newest first: the months the business case can read facts from.
select date_trunc('month', event_time)::date as month, count(*) as invoices
from events
where event_type = 'invoice'
group by 1
order by 1 desc
