"""Offline supply-chain audit: dependencies against an imported OSV snapshot, SBOM, model provenance.

Modules:

* ``osvdb``      imports OSV exports (zip of OSV JSON records) into an index in the user's data folder;
* ``versions``   OSV range semantics (introduced / fixed / last_affected, explicit versions) with
                 ``packaging``, and requirement specifiers as version intervals;
* ``manifests``  reads requirements*.txt, pyproject.toml, poetry/uv/pdm/Pipfile locks, conda
                 environment.yml and a venv's installed distributions;
* ``check``      matches packages against advisories: findings with the fix;
* ``provenance`` model files and hub references (pinned revision or not), hash changes;
* ``sbom``       CycloneDX 1.6 of the same inventory;
* ``engine``     the ``deps`` job; ``cli`` the commands; ``report`` the report section.

Nothing here opens a connection: the snapshot is carried over by the user.
This package is light to import; each module imports what it needs inside its functions.
"""
