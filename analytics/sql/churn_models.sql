-- Succeeded churn runs whose scores are ingested (churn_runs), newest feature set first, best ROC-AUC first
-- within a set; a model trained again on the same set (same cut-off and horizon) shows its newest run only. $dataset: one feature set (runs.dataset, e.g. workspace_churn_2026-08-02_90d), null for all.
-- Figures come from the run's eval.json (models.training.churn): ROC-AUC and PR-AUC with their 95% bootstrap
-- intervals on the held-out test accounts, Brier score, accuracy at the 0.5 threshold, test counts.
with churn as (
    select
        r.run_id, r.method, r.model, r.dataset, r.finished_at, r.train_seconds, r.device,
        c.cutoff, c.horizon_days, c.score_cutoff, c.n_scored,
        r.eval_json::json as ev
    from runs as r
    inner join churn_runs as c on c.run_id = r.run_id
    where r.state = 'succeeded'
        and ($dataset is null or r.dataset = $dataset)
    qualify row_number() over (partition by r.dataset, r.method order by r.finished_at desc, r.run_id desc) = 1
),

sets as (
    select dataset, max(finished_at) as set_finished_at from churn group by dataset
)

select
    c.run_id, c.method, c.model, c.dataset, c.cutoff, c.horizon_days, c.score_cutoff, c.n_scored,
    (c.ev ->> 'roc_auc')::double as roc_auc,
    (c.ev ->> 'roc_auc_ci_low')::double as roc_auc_ci_low,
    (c.ev ->> 'roc_auc_ci_high')::double as roc_auc_ci_high,
    (c.ev ->> 'pr_auc')::double as pr_auc,
    (c.ev ->> 'pr_auc_ci_low')::double as pr_auc_ci_low,
    (c.ev ->> 'pr_auc_ci_high')::double as pr_auc_ci_high,
    (c.ev ->> 'brier')::double as brier,
    (c.ev ->> 'accuracy')::double as accuracy,
    (c.ev ->> 'base_rate')::double as base_rate,
    (c.ev ->> 'n_test')::integer as n_test,
    (c.ev ->> 'positives_test')::integer as positives_test,
    c.train_seconds, c.device, c.finished_at
from churn as c
inner join sets as s on s.dataset = c.dataset
order by s.set_finished_at desc, c.dataset, roc_auc desc nulls last, brier nulls last, c.run_id
