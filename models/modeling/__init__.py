"""Models: the registry and safe loading, the lean BERT forward, causal LMs, tokenise and pad."""
