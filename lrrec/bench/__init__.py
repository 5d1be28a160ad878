"""Benchmarks that reproduce published studies: `lrrec bench survey` (the survey's section 4)."""
