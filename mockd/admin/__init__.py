"""The admin REST API (README.rst, "Admin API"): ``mockd.admin.app.create_app(server)``."""
