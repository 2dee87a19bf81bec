-- per-example test predictions of one run; the most confident mistakes first
select text_id, true_label, pred_label, confidence, correct, probs
from run_predictions
where run_id = $run_id
order by correct, confidence desc, text_id
