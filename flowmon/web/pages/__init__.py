"""The pages, one module each, listed in :data:`flowmon.web.ROUTES`."""
