"""A disk that fills while the anonymiser's other outputs are written: an encrypted output opened
(`workbench anonymise-decrypt -o FILE`), sealed, or re-encrypted without a person (`anonymise-revoke`),
and tokens reversed (`workbench detokenise -o FILE`). The error names FILE (not its temporary part),
an earlier FILE is left as it was, and no temporary file is left.

The "full disk" is the file size limit (RLIMIT_FSIZE) of a child process: a write past it fails with
EFBIG, as one on a full disk fails with ENOSPC, and it needs no mount."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

KEY = bytes(range(32))
ENV = dict(os.environ, PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring",
           WORKBENCH_ANON_KEY_SHARE=KEY.hex())

SEAL = r"""
import json, resource, sys
from workbench_plugins.anonymise import crypto

src, dst, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    crypto.encrypt_file(src, dst, bytes(range(32)), "share")
    print(json.dumps({"error": None}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def _plain(tmp_path):
    src = tmp_path / "o.csv"
    src.write_text("a,b\n" + "".join(f"{i},{i * 7}\n" for i in range(20000)))
    return src


def test_a_full_disk_names_the_decrypted_file_and_keeps_the_earlier_one(tmp_path):
    from workbench_plugins.anonymise import crypto

    src = _plain(tmp_path)
    enc = tmp_path / "o.wbenc"
    crypto.encrypt_file(src, enc, KEY, "share")
    src.unlink()
    out = tmp_path / "b.csv"
    out.write_text("the previous, complete output\n")

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (50000, 50000))  # the plain file is about 230 kB

    run = subprocess.run([sys.executable, "-m", "workbench", "anonymise-decrypt", str(enc), "-o", str(out)],
                         capture_output=True, text=True, timeout=120, env=ENV, preexec_fn=small_files)
    assert run.returncode == 1
    assert f"{out}: no room to write the output ({os.strerror(27)}" in run.stderr, run.stderr[-2000:]
    assert "an earlier file of that name is unchanged" in run.stderr
    assert "Traceback" not in run.stderr and ".part" not in run.stderr
    assert out.read_text() == "the previous, complete output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "o.wbenc"]


def test_a_full_disk_names_the_encrypted_file_and_keeps_the_earlier_one(tmp_path):
    src = _plain(tmp_path)
    dst = tmp_path / "o.wbenc"
    dst.write_text("the previous, complete output\n")
    child = subprocess.run([sys.executable, "-c", SEAL, str(src), str(dst), "50000"], capture_output=True,
                           text=True, timeout=120, env=ENV)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["error"] == "AnonymiseError", result
    assert result["message"].startswith(f"{dst}: no room to write the output"), result["message"]
    assert dst.read_text() == "the previous, complete output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "o.wbenc"]


REKEY = r"""
import csv, json, resource, sys
from workbench.core.jobs import run_in_process
from workbench.core.project import Project
from workbench_plugins.anonymise import crypto, plugin
from tests.anonymise.test_anon_access import POLICY
from tests.anonymise.test_anon_plugin import _parser, _registry

folder, limit, action = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"{folder}/in.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["name", "email", "iban", "age"])
    w.writerows((f"Person {i}", f"p{i}@example.org", "DE89370400440532013000", str(20 + i % 50)) for i in range(3000))
registry = _registry()
if action == "revoke":  # an output encrypted to two people; bob is taken off
    extra = {"recipients": {"alice": crypto.new_identity()[1].hex(), "bob": crypto.new_identity()[1].hex()}}
    argv = ["anonymise-revoke", f"{folder}/o.wbenc", "bob"]
else:  # an output encrypted to a key, which is rotated
    extra = {"encrypt_key": "share"}
    argv = ["anonymise-rotate-key", "share"]
with Project.create(f"{folder}/p.wbproj", plugins=registry.plugins) as project:
    spec = plugin.job_spec("anonymise", target=f"{folder}/in.csv", output=f"{folder}/o.wbenc", policy=POLICY,
                           **extra)
    _, status, summary = run_in_process(project, spec, registry=registry)
    assert status == "done", summary
with open(f"{folder}/o.wbenc", "rb") as fh:
    before = fh.read()
args = _parser().parse_args([*argv, "-p", f"{folder}/p.wbproj"])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
try:
    args.func(args)
    result = {"error": None}
except Exception as exc:
    result = {"error": type(exc).__name__, "message": str(exc)}
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
with open(f"{folder}/o.wbenc", "rb") as fh:
    result["unchanged"] = fh.read() == before
result["size"] = len(before)
print(json.dumps(result))
"""


@pytest.mark.parametrize("action", ["revoke", "rotate"])
def test_a_full_disk_while_re_encrypting_names_the_output_and_keeps_it(tmp_path, action):
    from workbench.core.project import Project

    # room for the project (about 100 kB and its WAL), not for the decrypted copy (as large as the output)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child = subprocess.run([sys.executable, "-c", REKEY, str(tmp_path), "200000", action], capture_output=True,
                           text=True, timeout=300, env=ENV, cwd=repo)
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    out = tmp_path / "o.wbenc"
    assert result["size"] > 200000 > (tmp_path / "p.wbproj").stat().st_size
    assert result["error"] == "CliError", result  # what the command prints after "workbench: error:"
    assert result["message"].startswith(f"{out}: no room to re-encrypt it ({os.strerror(27)}"), result["message"]
    assert "it is unchanged" in result["message"] and result["unchanged"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("p.wbproj")) == ["in.csv", "o.wbenc"]
    with Project.open(tmp_path / "p.wbproj", readonly=True) as p:
        assert p.verify_events().ok
        assert not [e for e in p.events() if e["kind"] in ("anonymise.revoke", "anonymise.key_rotated")]


def test_a_full_disk_names_the_detokenised_file_and_keeps_the_earlier_one(tmp_path):
    import pyarrow as pa

    from workbench_plugins.anonymise.transforms import tokenise

    ibans = pa.array([f"DE8937040044053201{i:04d}" for i in range(5000)])
    tokens = tokenise(ibans, bytes.fromhex("11" * 32), "vault", "iban")
    tok = tmp_path / "tok.csv"
    tok.write_text("iban,amount\n" + "".join(f"{t},{i}\n" for i, t in enumerate(tokens.to_pylist())))
    out = tmp_path / "back.csv"
    out.write_text("the previous, complete output\n")

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))  # the output is about 130 kB

    run = subprocess.run([sys.executable, "-m", "workbench", "detokenise", str(tok), "-o", str(out),
                          "--column", "iban"], capture_output=True, text=True, timeout=120, preexec_fn=small_files,
                         env=dict(ENV, WORKBENCH_ANON_KEY_VAULT="11" * 32))
    assert run.returncode == 1
    assert f"{out}: no room to write the output ({os.strerror(27)}" in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and ".part" not in run.stderr
    assert out.read_text() == "the previous, complete output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.csv", "tok.csv"]


# `workbench anonymise`, with the disk full only while the automatic hierarchies are saved for review
# (after the output is in place): a limit for the whole process would stop the output first.
HIERARCHIES = r"""
import resource, sys
from workbench_plugins.anonymise import hierarchy

write = hierarchy.write_arx_hierarchy

def write_on_a_full_disk(*args, **kwargs):
    resource.setrlimit(resource.RLIMIT_FSIZE, (10, resource.RLIM_INFINITY))
    try:
        return write(*args, **kwargs)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

hierarchy.write_arx_hierarchy = write_on_a_full_disk
from workbench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_after_the_output_says_the_output_was_written(tmp_path):
    import shutil

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    src = tmp_path / "people.csv"
    shutil.copy(os.path.join(repo, "resources", "demo", "people.csv"), src)
    out = tmp_path / "out.csv"
    args = ["anonymise", str(src), "-o", str(out), "--qi", "zip", "--qi", "gender", "--k", "5"]
    env = dict(ENV, WORKBENCH_ANON_KEY_PSEUDONYM="ab" * 32, WORKBENCH_ANON_KEY_TOKEN="cd" * 32)
    first = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, timeout=300,
                           env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    saved = tmp_path / "out-hierarchies" / "zip.csv"
    before = saved.read_bytes()
    run = subprocess.run([sys.executable, "-c", HIERARCHIES, *args], capture_output=True, text=True, timeout=300,
                         env=env)
    assert run.returncode == 1
    assert f"{saved}: no room to save this automatic hierarchy for review ({os.strerror(27)}" in run.stderr, \
        run.stderr[-2000:]
    assert f"The output {out} was written and verified" in run.stderr
    assert "Nothing was written there" not in run.stderr and "Traceback" not in run.stderr
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["gender.csv", "zip.csv"]  # no temporary file
