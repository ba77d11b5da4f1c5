"""Hooks into stacks providers already run (LiteLLM)."""
