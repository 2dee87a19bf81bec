"""Configuration, run folders and their files, evaluation, memory errors: what every method shares."""
