"""A vLLM-compatible simulated server: `python -m harness.sim` or `omniload sim`."""
