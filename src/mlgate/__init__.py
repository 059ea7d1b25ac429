"""mlgate: a Git-hooked CI/CD plugin for DVC machine-learning projects."""

# The one place the version is written (pyproject.toml reads it): importlib.metadata would
# cost the hooks 50 ms at every start.
__version__ = "0.1.0"

__all__ = ["__version__"]
