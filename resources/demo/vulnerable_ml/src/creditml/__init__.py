"""Credit scoring prototype (demo target: deliberately unsafe)."""
