"""The workbench's pages: one module per page, each with a `render()` that app.py's navigation runs."""
