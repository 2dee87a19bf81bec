-- Expected churn of one churn run ($run_id) over its scored accounts (every account active on the score day):
-- the expected number of cancels within the horizon (the sum of scores), the mean score over all and over
-- paying accounts (MRR > 0), and the MRR at risk (the sum of score x MRR) against the scored MRR.
select
    count(*) as accounts,
    count(*) filter (where mrr_usd > 0) as paying_accounts,
    coalesce(sum(score), 0) as expected_cancels,
    avg(score) as mean_score,
    avg(score) filter (where mrr_usd > 0) as paying_mean_score,
    coalesce(sum(score * mrr_usd), 0) as mrr_at_risk_usd,
    coalesce(sum(mrr_usd), 0) as mrr_usd
from churn_scores
where run_id = $run_id
