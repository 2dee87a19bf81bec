"""Churn models on the workspace's own accounts: scikit-learn baselines and a small torch MLP.

config (ChurnConfig), data (the feature folder and its split), baselines, mlp (the accelerate loop),
evaluate (eval.json), train (`train_churn`: one run folder per model), cli (`python -m models train-churn`).
"""
