-- Units of the sample experiment on the activation step: users signing up from $start to $end (inclusive
-- days), assigned at sign-up, with their first activation (null: never activated).
select
    u.user_id,
    u.signup_at as assigned_at,
    min(e.event_time) as activated_at
from main.users as u
left join main.events as e
    on e.user_id = u.user_id and e.event_type = 'activation'
where u.signup_at >= $start
    and u.signup_at < cast($end as date) + 1
group by u.user_id, u.signup_at
order by u.user_id
