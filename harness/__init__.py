"""omniload: load tests and accuracy checks for OpenAI-compatible multimodal chat servers."""

__version__ = "0.1.0"
