"""Authentication: JWT tokens with per-user revocation, the request viewer, permissions."""
