"""The REST API's routers, one module per area; :func:`flowui.app.create_app` includes them."""
