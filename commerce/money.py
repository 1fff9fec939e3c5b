"""Money helpers. Money is integer cents everywhere so sums are exact; only display and percentages round."""
from __future__ import annotations

BP_PER_WHOLE = 10_000  # basis points in 100 %


def yuan(cents: int) -> str:
    """Display form, "¥12.30" (negative amounts "-¥12.30")."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}¥{whole}.{frac:02d}"


def pct(cents: int, basis_points: int) -> int:
    """``cents * basis_points / 10000`` rounded half-up to a cent (half away from zero for negatives).

    Integer arithmetic, not floats, so 0.5 cent always rounds the same way.
    """
    if cents < 0:
        return -pct(-cents, basis_points)
    if basis_points < 0:
        return -pct(cents, -basis_points)
    return (cents * basis_points * 2 + BP_PER_WHOLE) // (2 * BP_PER_WHOLE)
