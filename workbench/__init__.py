"""AI Security Workbench: audit, anonymise, attack and monitor AI systems, offline."""

__version__ = "0.1.0"
APP_NAME = "AI Security Workbench"
