"""Entry point of the CSV adapter (placeholder until the dialect engine lands)."""
