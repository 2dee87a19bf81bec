-- 011: A/B experiments on a conversion step. `experiments` holds each experiment's plan (the two variants
-- compared, the planned treatment share of traffic, the design inputs and the planned units per variant from
-- the power calculation); `experiment_assignments` one row per unit (a user) assigned to a variant, with
-- whether and when it converted. The sample workspace gets one finished experiment on the activation step
-- (analytics/ingest/sample_experiment.py), labelled is_sample. Checks spanning rows (one variant only, a
-- variant without units, conversions before assignment) live in analytics.compute.experiments.
create table experiments (
    experiment varchar primary key check (length(trim(experiment)) > 0),
    title varchar not null,
    step varchar not null,
    hypothesis varchar,
    control_variant varchar not null,
    treatment_variant varchar not null,
    treatment_share double not null check (treatment_share > 0 and treatment_share < 1),
    baseline_rate double not null check (baseline_rate > 0 and baseline_rate < 1),
    mde_absolute double not null check (mde_absolute <> 0),
    power double not null check (power > 0 and power < 1),
    alpha double not null check (alpha > 0 and alpha < 1),
    planned_per_variant integer not null check (planned_per_variant >= 1),
    conversion_window_days integer not null check (conversion_window_days >= 1),
    start_date date not null,
    end_date date not null,
    status varchar not null check (status in ('running', 'finished')),
    is_sample boolean not null default false,
    check (end_date >= start_date),
    check (control_variant <> treatment_variant)
);

create table experiment_assignments (
    experiment varchar not null,
    user_id integer not null,
    variant varchar not null,
    assigned_at timestamp not null,
    converted integer not null check (converted in (0, 1)),
    converted_at timestamp,
    is_sample boolean not null default false,
    primary key (experiment, user_id),
    check (converted_at is null or converted_at >= assigned_at),
    check ((converted = 1) = (converted_at is not null))
);
