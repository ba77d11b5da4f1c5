"""The DistillGuard gateway: an OpenAI-compatible proxy that logs every exchange and enforces policy.

`enforce` (the engine), `limits` (token buckets), `shared` (replica state) and `control` (dashboard
interface) import no HTTP code, so the LiteLLM hook and the backtest reuse them; `app` is the Starlette
server.
"""
