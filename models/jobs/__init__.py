"""The persistent job queue, the process behind each job, and the quick demo's plan."""
