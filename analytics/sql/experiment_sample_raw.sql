-- experiment_raw for an experiment of the experiment_assignments table: its rows assigned from $start to $end
-- (inclusive days; null = no bound), in the shape prepare_units checks.
select
    cast(user_id as varchar) as unit,
    variant,
    assigned_at,
    converted_at,
    cast(converted as varchar) as converted_text,
    converted as converted_value
from main.experiment_assignments
where experiment = $experiment
    and ($start is null or assigned_at >= $start)
    and ($end is null or assigned_at < cast($end as date) + 1)
