"""Datasets: the catalog of public sets, user files, seeded splits, PII masking."""
