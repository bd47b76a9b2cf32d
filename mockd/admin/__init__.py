"""The admin REST API (behaviour.md §11): ``mockd.admin.app.create_app(server)``.

Deliberately empty: ``mockd.admin.client`` must stay importable without Flask.
"""
