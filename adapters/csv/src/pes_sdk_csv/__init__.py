"""CSV registry dialects for pes-sdk."""
