"""The network lives here (ARCHITECTURE invariant 4): each client owns its service's rate limit,
retries, quota handling and budget. Tasks never sleep on a Retry-After."""
