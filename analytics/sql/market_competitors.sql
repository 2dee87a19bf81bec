-- Competitor positioning in canonical columns, from the sample table or a user's mapped table.
-- {source} is filled in by analytics.market with a projection of validated, quoted identifiers.
-- $our_name marks our own product; when null, a name ending in '(us)' does.
with source as (
    select * from {source}
),

typed as (
    select
        cast(name as varchar) as name,
        cast(price_per_seat_usd as double) as price_per_seat_usd,
        cast(capability_score as double) as capability_score,
        cast(funding_usd_m as double) as funding_usd_m,
        cast(launch_year as integer) as launch_year
    from source
),

scored as (
    select
        *,
        case when price_per_seat_usd > 0 then capability_score / price_per_seat_usd end as capability_per_usd,
        case
            when cast($our_name as varchar) is null then coalesce(name like '%(us)', false)
            else coalesce(name = cast($our_name as varchar), false)
        end as is_us
    from typed
)

select *
from scored
order by capability_score desc, name
