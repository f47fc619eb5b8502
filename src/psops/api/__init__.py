"""The HTTP API (`/api/v1`): the same services, checks and visibility as the pages, for other systems."""
