"""The read API (`/api/v1/kpis…`, docs/api.md): personal access tokens, routes, answers and
their OpenAPI description."""
