"""Tests of models/: core, data, modeling, training, serving, jobs, planning, CLI."""
