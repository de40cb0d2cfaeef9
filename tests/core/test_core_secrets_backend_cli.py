"""`workbench secret backend`: the explicit choice, through the real CLI (to add once the CLI is wired)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from test_core_secrets_backend import bare_env, linux_only
from wb_core_helpers import REPO_ROOT
from workbench.core import secrets
from workbench.core.project import Project

pytestmark = linux_only
VALUE = "sk-cli-Wv3Rt8Yp1Qm6Zx0Lk4Nj7Hb2Gd5"


def wb(*args, env, stdin=None):
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO_ROOT)


def test_secret_backend_choose_set_get(tmp_path):
    project = tmp_path / "p.wbproj"
    Project.create(project).close()
    env = bare_env(tmp_path)
    shown = wb("secret", "backend", env=env)
    assert shown.returncode == 0 and shown.stdout.startswith("none usable: No OS keyring")
    chosen = wb("secret", "backend", "encrypted-file", env=env)
    assert chosen.returncode == 0, chosen.stderr
    assert "encrypted file" in chosen.stdout and "(not created yet)" in chosen.stdout
    locked = wb("secret", "set", project, "api", "--stdin", stdin=VALUE + "\n", env=env)
    assert locked.returncode == 1 and secrets.PASSPHRASE_ENV in locked.stderr
    unlocked = bare_env(tmp_path, **{secrets.PASSPHRASE_ENV: "a long passphrase"})
    stored = wb("secret", "set", project, "api", "--stdin", stdin=VALUE + "\n", env=unlocked)
    assert stored.returncode == 0 and "stored 'api' in encrypted file" in stored.stdout
    assert "OS keyring" not in stored.stdout
    assert wb("secret", "get", project, "api", env=unlocked).stdout.strip() == VALUE
    back = wb("secret", "backend", "os", env=env)
    assert back.returncode == 0 and "No OS keyring" in back.stdout
    assert wb("secret", "get", project, "api", env=unlocked).returncode == 1


@pytest.mark.parametrize("args", [("backend", "plaintext"), ("backend", "os", "--file", "x"),
                                  ("backend", "os", "extra"), ("list",)])
def test_secret_backend_usage_errors(tmp_path, args):
    out = wb("secret", *args, env=bare_env(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert not (tmp_path / "xdg-config").exists()
