"""Compare candidates on one evaluation set: measured accuracy against measured or priced dollars.

A candidate is a succeeded run (classic, linear probe, fine-tune, LoRA, zero-shot LLM) or a hosted API whose
accuracy the user entered with a source (or computed from an imported predictions file). Every number in the
leaderboard carries its provenance: measured on a named machine on a date, a dated catalog price, or an
estimate with its formula. Nothing misleading is drawn silently: a run whose hardware has no price, an API
without token counts, or a zero volume is flagged (or refused) with what to do about it.

- `candidates`: evaluation sets, hosted-API candidates (entered or imported), the data signature.
- `pricing`: which catalog price applies to measured hardware, and how a price is cited.
- `leaderboard`: the settings, the leaderboard and its provenance, the Wilson interval.
- `recommend`: break-even volumes, total cost curves, the one-sentence recommendation.
- `cascade`: a small model that defers to a big one below a confidence threshold.
- `scaling`: learning curves, projections onto other GPUs, the training scaling planner.
"""
