-- What stops an analysis, counted over experiment_raw: missing ids, variants and times, conversion values
-- that are not 0/1 (converted_value null), conversions before assignment, units seen in two variants.
with per_unit as (
    select unit, count(distinct variant) as variants
    from experiment_raw
    where unit is not null and variant is not null
    group by unit
)

select
    (select count(*) from experiment_raw) as source_rows,
    (select count(*) from experiment_raw where unit is null) as null_units,
    (select count(*) from experiment_raw where variant is null) as null_variants,
    (select count(*) from experiment_raw where assigned_at is null) as null_assigned,
    (select count(*) from experiment_raw where converted_value is null) as bad_converted,
    (
        select list(v order by v)[1:5]
        from (select distinct coalesce(converted_text, '(empty)') as v from experiment_raw
              where converted_value is null)
    ) as bad_examples,
    (select count(*) from experiment_raw where converted_at < assigned_at) as converted_before_assigned,
    (select min(unit) from experiment_raw where converted_at < assigned_at) as example_unit,
    (select count(*) from per_unit where variants > 1) as units_in_two_variants,
    (select min(unit) from per_unit where variants > 1) as example_switcher
