"""The admin REST API (README.rst, "Admin API"): ``mockd.admin.app.create_app(server)``.

Deliberately empty: ``mockd.admin.client`` must stay importable without Flask.
"""
