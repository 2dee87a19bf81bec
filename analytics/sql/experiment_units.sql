-- One row per unit of experiment_raw (after experiment_checks passed): its variant, first assignment, whether
-- any of its rows converted, and its first conversion time.
select
    unit,
    min(variant) as variant,
    min(assigned_at) as assigned_at,
    max(converted_value)::integer as converted,
    min(converted_at) as converted_at
from experiment_raw
group by unit
