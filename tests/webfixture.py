"""A small two-domain Kratos fixture (SQLite, written with the schema writer) for the web tests.

Hand-worked numbers, as of 2024-05-10T12:00:00Z:

* ciam: c1..c5 active, c6 inactive. c1 usable TOTP, c2 WebAuthn second-factor key, c5 unused
  recovery codes, c3/c4 password only: total 5, enrolled 2, 40.00 % against the 30 % target (meets).
  One AAL2 step at login on 2024-05-10 (c1).
* iam: i1, i2 usable TOTP, i3 password only: total 3, enrolled 2, 66.67 % against 95 % (below target,
  `below_target` fires). One AAL2 step later in the session on 2024-05-09 (i1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine

from mfastats.demo.kratos_schema import Credential, Identity, Session, write_kratos
from mfastats.settings import Flags, Settings, load_settings

AS_OF = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
AS_OF_TEXT = "2024-05-10T12:00:00Z"
TOTP = {"totp_url": "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example"}
WEBAUTHN = {"credentials": [{"id": "a2V5", "is_passwordless": False}]}
PASSWORD = {"hashed_password": "$argon2id$v=19$m=65536,t=1,p=1$c2FsdA$aGFzaA"}
LOOKUP = {"recovery_codes": [{"code": "abcd-efgh", "used_at": None}]}
IDS = {name: f"00000000-0000-4000-8000-{index:012d}" for index, name in
       enumerate(["c1", "c2", "c3", "c4", "c5", "c6", "i1", "i2", "i3"], start=1)}

EXPECTED = {
    "ciam": {"total": 5, "enrolled": 2, "percent": 40.0, "target_percent": 30.0, "meets_target": True},
    "iam": {"total": 3, "enrolled": 2, "percent": 66.67, "target_percent": 95.0, "meets_target": False},
}


def _amr(*entries: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"method": method, "aal": aal, "completed_at": at} for method, aal, at in entries]


@dataclass(frozen=True)
class WebFixture:
    ciam: Path
    iam: Path

    @property
    def kratos_flags(self) -> list[str]:
        return [f"ciam=sqlite:///{self.ciam}", f"iam=sqlite:///{self.iam}"]

    def settings(self) -> Settings:
        return load_settings(Flags(kratos=self.kratos_flags), environ={})

    def cli_args(self) -> list[str]:
        args: list[str] = []
        for flag in self.kratos_flags:
            args += ["--kratos", flag]
        return args


def build(folder: Path) -> WebFixture:
    folder.mkdir(parents=True, exist_ok=True)
    ciam, iam = folder / "ciam.sqlite", folder / "iam.sqlite"
    for path in (ciam, iam):
        path.unlink(missing_ok=True)
    created = datetime(2024, 5, 1, 9, 0)
    c = IDS
    engine = create_engine(f"sqlite:///{ciam}")
    write_kratos(
        engine,
        [Identity(c[n], created_at=created) for n in ("c1", "c2", "c3", "c4", "c5")]
        + [Identity(c["c6"], state="inactive", created_at=created)],
        [Credential(c["c1"], "password", PASSWORD), Credential(c["c1"], "totp", TOTP, created_at=datetime(2024, 5, 8, 10)),
         Credential(c["c2"], "password", PASSWORD),
         Credential(c["c2"], "webauthn", WEBAUTHN, created_at=datetime(2024, 5, 9, 10)),
         Credential(c["c3"], "password", PASSWORD), Credential(c["c4"], "password", PASSWORD),
         Credential(c["c5"], "password", PASSWORD), Credential(c["c5"], "lookup_secret", LOOKUP)],
        [Session(c["c1"], aal="aal2", amr=_amr(("password", "aal1", "2024-05-10T08:00:00Z"),
                                                ("totp", "aal2", "2024-05-10T08:01:00Z")),
                 authenticated_at=datetime(2024, 5, 10, 8), issued_at=datetime(2024, 5, 10, 8))],
    )
    engine.dispose()
    engine = create_engine(f"sqlite:///{iam}")
    write_kratos(
        engine,
        [Identity(c[n], schema_id="admin", created_at=created) for n in ("i1", "i2", "i3")],
        [Credential(c["i1"], "password", PASSWORD), Credential(c["i1"], "totp", TOTP, created_at=datetime(2024, 5, 2, 10)),
         Credential(c["i2"], "password", PASSWORD), Credential(c["i2"], "totp", TOTP, created_at=datetime(2024, 5, 3, 10)),
         Credential(c["i3"], "password", PASSWORD)],
        [Session(c["i1"], aal="aal2", amr=_amr(("password", "aal1", "2024-05-09T07:00:00Z"),
                                                ("totp", "aal2", "2024-05-09T09:30:00Z")),
                 authenticated_at=datetime(2024, 5, 9, 7), issued_at=datetime(2024, 5, 9, 7))],
    )
    engine.dispose()
    return WebFixture(ciam, iam)
