-- Conversion per variant of experiment_units: units, conversions, rate and the assignment span.
select
    variant,
    count(*)::bigint as units,
    sum(converted)::bigint as conversions,
    avg(converted) as rate,
    min(assigned_at) as first_assigned,
    max(assigned_at) as last_assigned
from experiment_units
group by variant
order by variant
