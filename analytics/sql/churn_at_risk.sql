-- The accounts of one churn run ($run_id) with the most MRR at risk: score (probability of a cancel within
-- the run's horizon) x MRR on the score day, then the highest score, at most $limit rows. Account name and
-- segment from the accounts table (null when the account is not there).
select
    s.account_id,
    a.account_name,
    a.company_size,
    a.region,
    s.score,
    s.mrr_usd,
    s.score * s.mrr_usd as mrr_at_risk_usd
from churn_scores as s
left join accounts as a on a.account_id = s.account_id
where s.run_id = $run_id
order by mrr_at_risk_usd desc, s.score desc, s.account_id
limit $limit
