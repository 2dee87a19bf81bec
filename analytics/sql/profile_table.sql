-- profile_table: one row per column of $table with nulls, distinct values, min, max and one example
-- (unpivot drops null stats; the pivot brings them back as nulls).
with src as (
    select * from query_table($table)
),

wide as (
    select 'nulls' as profile_stat_, (count(*) - count(columns(*)))::varchar from src
    union all
    select 'distinct_values', count(distinct columns(*))::varchar from src
    union all
    select 'min_value', min(columns(*))::varchar from src
    union all
    select 'max_value', max(columns(*))::varchar from src
    union all
    select 'example', any_value(columns(*))::varchar from src
),

long as (
    unpivot wide
    on columns(* exclude (profile_stat_))
    into name column_name value stat_value
)

pivot long on profile_stat_ in ('nulls', 'distinct_values', 'min_value', 'max_value', 'example')
using first(stat_value)
group by column_name
