from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class Office(Base):
    """A unit of the department that answers cases (股室, 中心...)."""

    __tablename__ = "office"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Where reminders and digests for this office go.
    email: Mapped[str | None] = mapped_column(String(320))
    #: How many reviewers must approve a reply before it is sent (0 to 3).
    review_levels: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<Office {self.code}>"
