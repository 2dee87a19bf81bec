"""A/B experiments on a conversion step: design (sample size and duration) and analysis (conversion per
variant, lift with 95% CIs, p-value, sample-ratio mismatch, peeking), statistics by statsmodels and scipy.

Modules: `design` (DesignInput -> SampleSize with statsmodels' NormalIndPower; daily traffic into the step
from the events table, an experiment table or your input; Duration), `source` (the units an analysis reads:
the sample experiment_assignments table or a user's table mapped with ExperimentMapping, checked by
experiment_checks.sql), `analysis` (AnalysisPlan -> ExperimentResult with the verdict sentence and
warnings), `catalog` (experiments stored in the workspace and their plans), `errors`.
"""
