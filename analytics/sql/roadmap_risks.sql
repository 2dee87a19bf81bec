-- the roadmap's risks, highest score (likelihood x impact) first
select
    risk_id,
    stage_id,
    title,
    likelihood,
    impact,
    likelihood * impact as score,
    mitigation,
    is_sample
from roadmap_risks
order by score desc, risk_id
