"""Write the demo's model files into DIR/models (default: next to this file).

Run at demo time, never committed: one benign pickle, one malicious pickle
whose opcodes import ``os.system`` (built byte by byte, never loaded), and a
zip-based PyTorch checkpoint carrying the same payload. Standard library only.
"""

from __future__ import annotations

import argparse
import pickle
import zipfile
from pathlib import Path

# Protocol-0 opcodes: GLOBAL 'os system', MARK, STRING, TUPLE, REDUCE, STOP.
# Loading this would run the shell command; the audit only walks the opcodes.
MALICIOUS_PICKLE = b"cos\nsystem\n(S'echo owned > /tmp/owned'\ntR."


def benign_pickle() -> bytes:
    return pickle.dumps({"weights": [0.1, 0.2, 0.3], "bias": 0.5}, protocol=4)


def torch_zip(payload: bytes) -> bytes:
    """A file laid out like torch.save's zip format: archive/data.pkl etc."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def make_artifacts(root: Path) -> list[Path]:
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    files = {
        "baseline.pkl": benign_pickle(),
        "scorer_v2.pkl": MALICIOUS_PICKLE,
        "scorer.pt": torch_zip(MALICIOUS_PICKLE),
    }
    written = []
    for name, data in files.items():
        path = models / name
        path.write_bytes(data)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", nargs="?", default=str(Path(__file__).parent))
    args = parser.parse_args()
    for path in make_artifacts(Path(args.dir)):
        print(path)


if __name__ == "__main__":
    main()
