"""Pages: templates, the dashboard, vendored assets and error pages."""
