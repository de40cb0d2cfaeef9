"""Generate resources/demo/people.csv: synthetic personal data for the demo.

Every value is made up from the small lists below with a fixed seed, so the
file is reproducible and contains no real person. Run from the repo root:
``python scripts/make_demo_people.py``.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

FIRST = ["Anna", "Ben", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kaito",
         "Lena", "Mateo", "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera",
         "Wim", "Xenia", "Yusuf", "Zoe"]
LAST = ["Albers", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ivanova",
        "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quist", "Rossi",
        "Schmidt", "Tanaka", "Usman", "Vogel", "Weber", "Yilmaz", "Zimmermann"]
CITIES = [("10115", "Berlin"), ("20095", "Hamburg"), ("50667", "Köln"), ("60311", "Frankfurt"),
          ("80331", "München"), ("70173", "Stuttgart"), ("04109", "Leipzig"), ("01067", "Dresden")]
NATIONALITIES = ["DE", "FR", "IT", "PL", "TR", "NL", "ES", "SE"]
PURPOSES = ["car", "home renovation", "education", "consolidation", "holiday", "medical bills"]


def iban(rng: random.Random) -> str:
    # Check digits are not computed on purpose: a valid-looking but invalid IBAN.
    return "DE00" + "".join(str(rng.randrange(10)) for _ in range(18))


def rows(n: int = 400, seed: int = 1729):
    rng = random.Random(seed)
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        zip_code, city = rng.choice(CITIES)
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        email = f"{first}.{last}{rng.randrange(100)}@example.org".lower()
        phone = f"+49 {rng.randrange(150, 180)} {rng.randrange(1000000, 9999999)}"
        income = rng.randrange(18, 140) * 1000
        purpose = rng.choice(PURPOSES)
        yield {
            "customer_id": f"C{100000 + i}",
            "full_name": f"{first} {last}",
            "email": email,
            "phone": phone,
            "date_of_birth": born.isoformat(),
            "zip": zip_code,
            "city": city,
            "gender": rng.choice(["female", "male", "diverse"]),
            "nationality": rng.choice(NATIONALITIES),
            "iban": iban(rng),
            "annual_income_eur": income,
            "loan_amount_eur": rng.randrange(1, 60) * 1000,
            "loan_purpose": purpose,
            "defaulted": int(rng.random() < 0.12),
            "notes": f"Called {first} on {phone} about the {purpose} loan; follow up at {email}.",
        }


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "resources" / "demo" / "people.csv"
    data = list(rows())
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)
    print(f"wrote {out} ({len(data)} rows)")


if __name__ == "__main__":
    main()
