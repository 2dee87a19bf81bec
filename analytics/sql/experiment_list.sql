-- The experiments of the workspace with their plans, newest start first.
select
    experiment,
    title,
    step,
    hypothesis,
    control_variant,
    treatment_variant,
    treatment_share,
    baseline_rate,
    mde_absolute,
    power,
    alpha,
    planned_per_variant,
    conversion_window_days,
    start_date,
    end_date,
    status,
    is_sample
from main.experiments
order by start_date desc, experiment
