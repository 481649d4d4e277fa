"""Built-in oversampling methods, one module each; registered as entry points in pyproject.toml."""
