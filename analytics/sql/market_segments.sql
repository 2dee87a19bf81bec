-- Market segments in canonical columns, from the sample table or a user's mapped table.
-- {source} is filled in by analytics.market with a projection of validated, quoted identifiers
-- (`select "col" as region, ... from "table"`); every value reaches DuckDB as data, never as SQL text.
with source as (
    select * from {source}
),

typed as (
    select
        coalesce(cast(region as varchar), '(blank)') as region,
        coalesce(cast(industry as varchar), '(blank)') as industry,
        coalesce(cast(company_size as varchar), '(blank)') as company_size,
        cast(companies as double) as companies,
        cast(adoption_rate as double) as adoption_rate,
        cast(acv_usd as double) as acv_usd,
        cast(growth_rate as double) as growth_rate
    from source
)

select *
from typed
order by region, industry, company_size
