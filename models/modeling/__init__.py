"""Models: the registry and safe loading, the lean BERT forward, causal LMs, tokenise and pad, and each
method's model (tfidf, embeddings for the probe, label_scorer and prompts for zero-shot)."""
