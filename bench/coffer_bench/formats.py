"""How the report writes figures: seconds, MiB, MB, MB/s, ratios, "x faster"."""


def fmt_s(x):
    return "—" if x is None else (f"{x:.2f} s" if x < 100 else f"{x:.0f} s")


def fmt_mib(kib):
    return "—" if kib is None else f"{kib / 1024:.0f} MiB"


def fmt_mb(b):
    return "—" if b is None else f"{b / 1e6:.1f} MB"


def faster(other, mine):
    """How many times faster coffer is: other's time / coffer's time."""
    if other is None or mine is None or mine <= 0:
        return None
    return other / mine


def fmt_faster(x):
    if x is None:
        return "—"
    return f"{x:.2f}x faster" if x >= 1 else f"{1 / x:.2f}x slower"


def fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}x"


def fmt_mbs(x):
    return "—" if x is None else f"{x:.0f} MB/s" if x >= 10 else f"{x:.1f} MB/s"
