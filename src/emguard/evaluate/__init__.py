"""Evaluation: scoring model answers (refusal detection, misalignment metrics)."""
