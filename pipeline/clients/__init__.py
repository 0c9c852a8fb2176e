"""The network lives here (docs/architecture.md, invariant 4): each client owns its service's
rate limit, retries, quota handling and budget. Tasks never sleep on a Retry-After."""
