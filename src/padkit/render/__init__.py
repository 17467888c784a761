"""Renderers: turn result dataclasses into terminal tables, JSON, HTML and PNG. Kept apart from the results."""
