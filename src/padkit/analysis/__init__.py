"""Analysis that only observes a model: static planning (plan) and measurement on data (audit)."""
