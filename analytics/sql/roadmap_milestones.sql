-- the roadmap's milestones by due date
select milestone_id, stage_id, name, due_date, is_sample
from roadmap_milestones
order by due_date, milestone_id
