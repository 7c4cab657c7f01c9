"""Example format plugin."""
