from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADULT = REPO.parent / "shared" / "data" / "adult"
ADULT_QIS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass",
             "occupation", "salary-class"]


@pytest.fixture(scope="session")
def adult_dir():
    if not (ADULT / "adult.csv").is_file():
        pytest.fail(f"the adult reference data is missing: expected {ADULT}/adult.csv "
                    "(the repo is cloned next to shared/)")
    return ADULT
