"""Amounts of money as a school writes them (yuan, to the fen: 25.80, ¥25.8, 25.8元), kept as
a whole number of fen so that sums are exact."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MOST = 100_000 * 100  # fen: a book or a compensation of more than 100,000 yuan is a typing slip
_MARKS = ("¥", "￥", "元", "RMB", "CNY")


def cents(value: object) -> int | None:
    """The amount *value* says, in fen; None for an empty cell. ValueError if it is not an
    amount: words, a negative amount, more than two decimals, or more than MOST."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("not an amount of money")
    text = str(value).strip().replace(",", "").replace(" ", "")
    for mark in _MARKS:
        text = text.replace(mark, "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{str(value).strip()!r} is not an amount of money, like 25.80") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{str(value).strip()!r} is not an amount of money, like 25.80")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{str(value).strip()!r} has more than two decimals (fen)")
    if fen > MOST:
        raise ValueError(f"{str(value).strip()!r} is more than {MOST // 100} yuan")
    return int(fen)


def yuan(fen: int) -> str:
    """*fen* written in yuan with two decimals: 2580 is "25.80"."""
    return f"{fen // 100}.{fen % 100:02d}"
