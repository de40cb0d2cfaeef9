from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# kept in the repository so that a fresh clone runs every test (source and licence: data/adult/README.md)
ADULT = Path(__file__).resolve().parent / "data" / "adult"
ADULT_QIS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass",
             "occupation", "salary-class"]


@pytest.fixture(scope="session")
def adult_dir():
    if not (ADULT / "adult.csv").is_file():
        pytest.fail(f"the adult reference data is missing: expected {ADULT}/adult.csv "
                    "(it ships with the repository)")
    return ADULT
