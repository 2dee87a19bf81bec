-- per-epoch metrics of one run, in order
select epoch, step, train_loss, val_loss, val_accuracy, val_macro_f1, improved
from run_epochs
where run_id = $run_id
order by epoch
