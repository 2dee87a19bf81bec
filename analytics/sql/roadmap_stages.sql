-- the roadmap's stages in plan order, each with the ids of the stages it depends on
with deps as (
    select stage_id, list(depends_on order by depends_on) as depends_on
    from roadmap_dependencies
    group by stage_id
)

select
    s.stage_id,
    s.name,
    s.position,
    s.start_date,
    s.end_date,
    s.owner,
    s.people,
    s.compute,
    s.budget_usd,
    s.notes,
    coalesce(d.depends_on, []::integer[]) as depends_on,
    s.is_sample
from roadmap_stages s
left join deps d using (stage_id)
order by s.position, s.stage_id
