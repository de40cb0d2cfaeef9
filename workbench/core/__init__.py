"""Qt-free core: project store, jobs, plugins, findings, secrets, report model."""
