"""The comparison report: one self-contained HTML page from a ``dispatch compare`` results dict (schema 1).

``render(results)`` returns the whole page as a string. Everything is drawn here as inline SVG (no
JavaScript library, no CDN, no image files), so the page reads offline and prints; a few lines of
inline script only switch which knob value the detail sections show. A Content-Security-Policy
forbids the page any network request.

What it shows, top to bottom: the summary sentences (``results["summary"]``, or sentences made here
when it is empty) with the command and the source; the KPI table, one row per policy and knob value,
mean and 95 % interval across the seeds; fleet sizing (service level against courier-hours, the
target line, the smallest fleet that meets it) when ``fleet_sizing`` is present; the KPIs against
the knob's values; courier utilisation; and, for the knob value picked (1.0x of a multiplier, else
the first), the differences of each policy from the first one (paired by seed), the click-to-door
distribution, open orders and idle couriers over the day (mean over the seeds), and H3 heatmaps of
demand, courier supply and lateness with a diverging difference map per policy.

Missing parts are tolerated: one seed (no interval), one policy (no differences), no knob, no cells,
no timeline, no ``groups`` (computed from the runs). All text from the results is escaped.
"""
from __future__ import annotations

import html
import math
import statistics
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import h3

PALETTE = ["#2563eb", "#ea8a0c", "#0e9f6e", "#9333ea", "#d93a3a", "#0891b2", "#a16207", "#db2777"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4", "3 6"]
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228, 12: 2.179,
       15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}
SEQ = {"demand": ["#f4f8fc", "#c6dbef", "#6baed6", "#2171b5", "#08306b"],
       "supply": ["#f5fbf3", "#c7e9c0", "#74c476", "#238b45", "#00441b"],
       "lateness": ["#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"]}
DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"]
NO_DATA = "#e6e9ee"
MULTIPLIERS = {"fleet_multiplier", "demand_multiplier", "prep_multiplier", "travel_multiplier"}
KNOB_DEFAULTS: dict[str, Any] = {**dict.fromkeys(MULTIPLIERS, 1.0), "cycle": 1.0, "batching": "on", "reposition": "off"}  # as compare.KNOBS


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str  # "%" for shares (stored as 0..1), else the unit shown in the header
    digits: int
    better: str | None  # "higher", "lower" or None


KPIS = [
    Kpi("orders", "Orders", "", 0, None),
    Kpi("delivered_share", "Delivered", "%", 1, "higher"),
    Kpi("on_time_share", "On time", "%", 1, "higher"),
    Kpi("ctd_mean", "Click-to-door mean", "min", 1, "lower"),
    Kpi("ctd_p50", "CTD p50", "min", 1, "lower"),
    Kpi("ctd_p90", "CTD p90", "min", 1, "lower"),
    Kpi("ctd_p99", "CTD p99", "min", 1, "lower"),
    Kpi("late_mean_min", "Late, mean", "min", 2, "lower"),
    Kpi("ready_to_pickup_mean", "Ready to pickup", "min", 1, "lower"),
    Kpi("utilisation", "Utilisation", "%", 1, None),
    Kpi("courier_hours", "Courier-hours", "h", 0, None),
    Kpi("orders_per_courier_hour", "Orders / courier-h", "", 2, "higher"),
    Kpi("cost_per_order", "Cost / order", "¥", 2, "lower"),
]
KPI = {k.key: k for k in KPIS}
TABLE_KPIS = [k for k in KPIS if k.key not in ("orders", "ctd_p50")]  # orders go under the knob value, the median in the distribution
DIFF_KPIS = ["on_time_share", "delivered_share", "ctd_mean", "ctd_p90", "late_mean_min", "ready_to_pickup_mean",
             "utilisation", "orders_per_courier_hour", "cost_per_order"]


MIN_LABEL_GAP_PX = 30  # knob labels closer than this on an axis would overlap: every other one is left out
MIN_VALUE_BAR_PX = 30  # bars narrower than a value's text carry it in their tooltip only


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt(kpi: Kpi, value: Any, unit: bool = False) -> str:
    """A KPI value for reading: shares in per cent, minutes with one decimal; '—' when missing."""
    v = _num(value)
    if v is None:
        return "—"
    if kpi.unit == "%":
        text = f"{100 * v:.{kpi.digits}f}"
        return f"{text} %" if unit else text
    text = f"{v:,.{kpi.digits}f}"
    if unit and kpi.unit == "¥":
        return f"¥{text}"
    return f"{text} {kpi.unit}" if unit and kpi.unit else text


def fmt_interval(kpi: Kpi, metric: dict[str, Any] | None) -> str:
    """'[lo, hi]' in the KPI's display units; empty when there is no spread to show (one seed)."""
    if not metric:
        return ""
    lo, hi = _num(metric.get("lo")), _num(metric.get("hi"))
    if lo is None or hi is None or math.isclose(lo, hi, rel_tol=0, abs_tol=1e-12):
        return ""
    lo = max(0.0, lo)  # every KPI here is >= 0, a t-interval of few seeds need not be
    if kpi.unit == "%":  # nor can a share pass 100 %
        hi = min(1.0, hi)
    return f"[{fmt(kpi, lo)}, {fmt(kpi, hi)}]"


def fmt_diff(kpi: Kpi, value: float | None) -> str:
    if value is None:
        return "—"
    sign = "−" if value < 0 and round(abs(value) * (100 if kpi.unit == "%" else 1), kpi.digits) > 0 else "+"
    if kpi.unit == "%":
        return f"{sign}{100 * abs(value):.{kpi.digits}f} pts"
    if kpi.unit == "¥":
        return f"{sign}¥{abs(value):,.{kpi.digits}f}"
    return f"{sign}{abs(value):,.{kpi.digits}f} {kpi.unit}".rstrip()


def t95(df: int) -> float:
    if df <= 0:
        return float("nan")
    keys = [k for k in T95 if k <= df]
    return T95[max(keys)] if df < 1000 else 1.96


def interval(values: Sequence[float]) -> dict[str, float] | None:
    """Mean and 95 % t-interval (lo = hi = mean for one value)."""
    xs = [v for v in (_num(x) for x in values) if v is not None]
    if not xs:
        return None
    mean = statistics.fmean(xs)
    if len(xs) < 2:
        return {"mean": mean, "lo": mean, "hi": mean}
    half = t95(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))
    return {"mean": mean, "lo": mean - half, "hi": mean + half}


def _key(value: Any) -> str:
    """A knob value as a dict key: 1 and 1.0 are the same value."""
    if value is None:
        return "none"
    n = None if isinstance(value, (bool, str)) else _num(value)
    return f"n:{n!r}" if n is not None else f"s:{value}"


def _colour(stops: Sequence[str], t: float) -> str:
    t = min(1.0, max(0.0, t))
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    a, b = stops[i], stops[i + 1]
    rgb = [round(int(a[j:j + 2], 16) * (1 - f) + int(b[j:j + 2], 16) * f) for j in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 10) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _nice(lo: float, hi: float, n: int = 5) -> tuple[float, float, list[float]]:
    """A domain extended to whole ticks, and its ticks."""
    if not hi > lo:
        lo, hi = lo - 1.0, hi + 1.0
    step_ticks = _ticks(lo, hi, n)
    step = (step_ticks[1] - step_ticks[0]) if len(step_ticks) > 1 else (hi - lo)
    lo2, hi2 = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    return lo2, hi2, _ticks(lo2, hi2, n)


def _g(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"


def clock(minute: float) -> str:
    m = round(minute)
    return f"{m // 60:02d}:{m % 60:02d}"


class Chart:
    """An x-y plotting area inside an SVG of ``w`` x ``h`` units."""

    def __init__(self, w: int, h: int, x: tuple[float, float], y: tuple[float, float],
                 left: int = 56, right: int = 18, top: int = 14, bottom: int = 42) -> None:
        self.w, self.h, self.left, self.right, self.top, self.bottom = w, h, left, right, top, bottom
        self.x0, self.x1 = x if x[1] > x[0] else (x[0] - 1, x[0] + 1)
        self.y0, self.y1 = y if y[1] > y[0] else (y[0] - 1, y[0] + 1)

    def sx(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * (self.w - self.left - self.right)

    def sy(self, y: float) -> float:
        return self.h - self.bottom - (y - self.y0) / (self.y1 - self.y0) * (self.h - self.top - self.bottom)

    def axes(self, xticks: Iterable[float], yticks: Iterable[float], xfmt: Callable[[float], str], yfmt: Callable[[float], str],
             xlabel: str, ylabel: str) -> str:
        out = ['<g class="axes">']
        for t in yticks:
            y = self.sy(t)
            out.append(f'<line class="grid" x1="{self.left}" x2="{self.w - self.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                       f'<text class="tick" x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(yfmt(t))}</text>')
        base = self.h - self.bottom
        out.append(f'<line class="axis" x1="{self.left}" x2="{self.w - self.right}" y1="{base}" y2="{base}"/>')
        for t in xticks:
            x = self.sx(t)
            out.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}"/>'
                       f'<text class="tick" x="{x:.1f}" y="{base + 17}" text-anchor="middle">{esc(xfmt(t))}</text>')
        if xlabel:
            out.append(f'<text class="axis-label" x="{(self.left + self.w - self.right) / 2:.0f}" y="{self.h - 6}" '
                       f'text-anchor="middle">{esc(xlabel)}</text>')
        if ylabel:
            out.append(f'<text class="axis-label" transform="translate(13 {(self.top + self.h - self.bottom) / 2:.0f}) rotate(-90)" '
                       f'text-anchor="middle">{esc(ylabel)}</text>')
        out.append("</g>")
        return "".join(out)

    def svg(self, body: str, label: str, cls: str = "chart") -> str:
        return (f'<svg class="{cls}" viewBox="0 0 {self.w} {self.h}" preserveAspectRatio="xMidYMid meet" role="img" '
                f'aria-label="{esc(label)}">{body}</svg>')


def _path(points: Iterable[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)


class Report:
    def __init__(self, results: dict[str, Any]) -> None:
        self.r = results
        self.runs: list[dict[str, Any]] = [r for r in results.get("runs") or [] if isinstance(r, dict)]
        policies = list(results.get("policies") or [])
        for run in self.runs:
            if run.get("policy") not in policies:
                policies.append(run.get("policy"))
        self.policies: list[str] = [str(p) for p in policies]
        knob = results.get("knob") or {}
        self.knob_name: str | None = knob.get("name")
        values = list(knob.get("values") or [])
        for item in self.runs + list(results.get("groups") or []):
            if _key(item.get("knob_value")) not in {_key(v) for v in values}:
                values.append(item.get("knob_value"))
        self.values: list[Any] = values or [None]
        self.colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(self.policies)}
        self.dash = {p: DASHES[i % len(DASHES)] for i, p in enumerate(self.policies)}
        self.by_run: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for run in self.runs:
            self.by_run.setdefault((str(run.get("policy")), _key(run.get("knob_value"))), []).append(run)
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}
        for g in results.get("groups") or []:
            self.groups[(str(g.get("policy")), _key(g.get("knob_value")))] = g
        for (policy, k), runs in self.by_run.items():  # groups the results lack, from the runs
            if (policy, k) not in self.groups:
                self.groups[(policy, k)] = {"policy": policy, "knob_value": runs[0].get("knob_value"), "n": len(runs),
                                            "metrics": {m.key: interval([(x.get("kpis") or {}).get(m.key) for x in runs]) for m in KPIS}}
        self.ref = self._reference()
        self.target = _num(results.get("target")) or _num((results.get("fleet_sizing") or {}).get("target"))

    # ------------------------------------------------------------------ helpers
    def _reference(self) -> int:
        """The knob value the detail sections open on, the one the summary describes (``simulator.compare.reference_value``):
        the value the city runs at without the knob (1.0 for a multiplier or the cycle, batching on, repositioning off),
        else the last value."""
        default = KNOB_DEFAULTS.get(self.knob_name or "")
        for i, v in enumerate(self.values):
            if default is not None and _key(v) == _key(default):
                return i
        return len(self.values) - 1

    def knob_label(self, value: Any) -> str:
        if value is None:
            return "—"
        n = None if isinstance(value, (bool, str)) else _num(value)
        if n is not None and self.knob_name in MULTIPLIERS:
            return f"{n:.1f}×" if n == int(n) else f"{_g(n)}×"
        if n is not None and self.knob_name == "cycle":
            return f"{_g(n)} min"
        return str(value)

    def knob_title(self) -> str:
        return (self.knob_name or "").replace("_", " ").capitalize()

    def metric(self, policy: str, value: Any, key: str) -> dict[str, Any] | None:
        g = self.groups.get((policy, _key(value)))
        m = (g or {}).get("metrics", {}).get(key)
        return m if isinstance(m, dict) and _num(m.get("mean")) is not None else None

    def runs_at(self, policy: str, value: Any) -> list[dict[str, Any]]:
        return sorted(self.by_run.get((policy, _key(value)), []), key=lambda r: (_num(r.get("seed")) or 0))

    def swatch(self, policy: str) -> str:
        return f'<i class="sw" style="background:{self.colour[policy]}"></i>'

    def legend(self, extra: dict[str, str] | None = None) -> str:
        items = "".join(f'<span>{self.swatch(p)}{esc(p)}{esc((extra or {}).get(p, ""))}</span>' for p in self.policies)
        return f'<div class="legend">{items}</div>'

    def kv_blocks(self, make: Callable[[int, Any], str]) -> str:
        """One block per knob value; only the picked one shows (the knob bar's buttons switch)."""
        return "".join(f'<div class="kv{" on" if i == self.ref else ""}" data-k="{i}">{make(i, v)}</div>'
                       for i, v in enumerate(self.values))

    def at(self, value: Any) -> str:
        return f' <span class="at">at {esc(self.knob_title().lower())} {esc(self.knob_label(value))}</span>' if self.knob_name else ""

    # ------------------------------------------------------------------ page
    def page(self) -> str:
        src = self.r.get("source") or {}
        title = f"Policy comparison — {src.get('name') or 'dispatch compare'}"
        body = [self.header(), '<main>', self.summary(), self.kpi_table(), self.fleet(), self.sensitivity(), self.utilisation(),
                self.knob_bar(), self.differences(), self.ctd(), self.over_the_day(), self.maps(), self.footer(), '</main>']
        return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
                "script-src 'unsafe-inline'; img-src data:\">\n"
                "<meta name=\"referrer\" content=\"no-referrer\">\n"
                f"<title>{esc(title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{CSS}</style>\n</head>\n<body>\n"
                + "\n".join(b for b in body if b) + f"\n<script>{JS}</script>\n</body>\n</html>\n")

    def header(self) -> str:
        src = self.r.get("source") or {}
        created = self.r.get("created") or ""
        return ('<header><div class="bar"><div class="brand">O2O <span>Delivery</span></div>'
                f'<div class="what">Dispatch policy comparison · {esc(src.get("name") or "")}</div>'
                f'<div class="created">{esc(str(created).replace("T", " ")[:19])}</div></div></header>')

    def summary(self) -> str:
        sentences = [str(s) for s in self.r.get("summary") or [] if str(s).strip()] or self.fallback_summary()
        src = self.r.get("source") or {}
        seeds = self.r.get("seeds") or sorted({r.get("seed") for r in self.runs if r.get("seed") is not None})
        facts = [("Source", f"{src.get('kind') or '?'} · {src.get('name') or '?'}" + (f" ({src.get('path')})" if src.get("path") else "")),
                 ("Day", ", ".join(x for x in (f"{src['orders']} orders" if src.get("orders") is not None else "",
                                               f"{src['couriers']} couriers" if src.get("couriers") is not None else "") if x) or "—"),
                 ("Policies", ", ".join(self.policies) or "—"),
                 ("Seeds", f"{len(seeds)} ({', '.join(str(s) for s in seeds)})" if seeds else "—"),
                 ("Knob", f"{self.knob_title()}: {', '.join(self.knob_label(v) for v in self.values)}" if self.knob_name else "none")]
        if self.target is not None:
            facts.append(("Target", f"{100 * self.target:g} % on time"))
        wall = sum(_num(r.get("wall_s")) or 0.0 for r in self.runs)
        took = f"{wall / 60:.1f} min" if wall >= 90 else f"{wall:.0f} s" if wall >= 10 else f"{wall:.1f} s"
        facts.append(("Runs", f"{len(self.runs)} ({took} of simulation)" if wall else str(len(self.runs))))
        dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
        items = "".join(f"<li>{esc(s)}</li>" for s in sentences)
        command = self.r.get("command")
        cmd = f'<p class="cmd"><span class="label">Command</span><code>{esc(command)}</code></p>' if command else ""
        return (f'<section id="summary" class="card highlight"><h1>What the comparison says</h1><ul class="sentences">{items}</ul>'
                f'{cmd}<dl class="facts">{dl}</dl></section>')

    def fallback_summary(self) -> list[str]:
        if not self.policies:
            return ["The results hold no runs."]
        value = self.values[self.ref]
        where = f" at {self.knob_title().lower()} {self.knob_label(value)}" if self.knob_name else ""
        base = self.policies[0]
        out = []
        for other in self.policies[1:]:
            for key in ("on_time_share", "ctd_mean"):
                k = KPI[key]
                a, b = self.metric(base, value, key), self.metric(other, value, key)
                if not a or not b:
                    continue
                d = b["mean"] - a["mean"]
                better = (d > 0) == (k.better == "higher") if d else None
                verdict = "the same as" if better is None else ("better than" if better else "worse than")
                ia, ib = fmt_interval(k, a), fmt_interval(k, b)
                out.append(f"{k.label}{where}: {other} {fmt(k, b['mean'], True)}{' ' + ib if ib else ''}, "
                           f"{verdict} {base} {fmt(k, a['mean'], True)}{' ' + ia if ia else ''} ({fmt_diff(k, d)}).")
        if not out:
            k = KPI["on_time_share"]
            m = self.metric(base, value, "on_time_share")
            out.append(f"{base} delivers {fmt(k, m['mean'], True)} of orders on time{where}." if m else f"One policy: {base}.")
        return out

    # ------------------------------------------------------------------ KPI table
    def kpi_table(self) -> str:
        head = "".join(f'<th>{esc(k.label)}{f"<small>{esc(k.unit)}</small>" if k.unit else ""}</th>' for k in TABLE_KPIS)
        knob_th = f"<th>{esc(self.knob_title()) if self.knob_name else 'Day'}</th>"
        rows = []
        for v in self.values:
            best: dict[str, float] = {}
            for k in TABLE_KPIS:
                means = [m["mean"] for p in self.policies if (m := self.metric(p, v, k.key))]
                if k.better and len(means) > 1 and len({round(x, 9) for x in means}) > 1:
                    best[k.key] = max(means) if k.better == "higher" else min(means)
            for i, p in enumerate(self.policies):
                g = self.groups.get((p, _key(v)))
                if g is None:
                    continue
                cells = []
                for k in TABLE_KPIS:
                    m = self.metric(p, v, k.key)
                    cls = ' class="best"' if m and k.key in best and math.isclose(m["mean"], best[k.key], rel_tol=1e-12, abs_tol=1e-12) else ""
                    ci = fmt_interval(k, m)
                    cells.append(f'<td{cls}><b>{fmt(k, m and m["mean"])}</b>{f"<small>{ci}</small>" if ci else ""}</td>')
                n = g.get("n")
                first = ' class="first"' if i == 0 else ""
                orders = self.metric(p, v, "orders")
                small = f'<small>{orders["mean"]:,.0f} orders</small>' if orders else ""
                knob_td = f'<td class="knob">{esc(self.knob_label(v)) if self.knob_name else "—"}{small}</td>'
                rows.append(f'<tr{first} data-policy="{esc(p)}" data-knob="{esc(self.knob_label(v))}">'
                            f'<th scope="row">{self.swatch(p)}{esc(p)}{f"<small>n = {esc(n)}</small>" if n is not None else ""}</th>'
                            f'{knob_td}{"".join(cells)}</tr>')
        return (f'<section id="kpi" class="card"><h2>Key figures per policy</h2>'
                '<p class="note">Mean over the seeds, with the 95 % interval below it (t-interval across the seeds; none with one seed). '
                'Green: the better policy at that knob value, on the KPIs where more or less is plainly better; whether the gap is more than '
                'the noise of the seeds is in the differences below.</p>'
                f'<div class="scroll"><table class="kpi"><thead><tr><th>Policy</th>{knob_th}{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table></div></section>')

    # ------------------------------------------------------------------ fleet sizing
    def fleet(self) -> str:
        fs = self.r.get("fleet_sizing")
        if not isinstance(fs, dict) or not fs.get("per_policy"):
            return ""
        target = _num(fs.get("target")) if fs.get("target") is not None else self.target
        metric = fs.get("metric") or "on_time_share"
        k = KPI.get(metric, Kpi(metric, metric.replace("_", " "), "%", 1, "higher"))
        per = {str(p): v for p, v in fs["per_policy"].items() if isinstance(v, dict)}
        pts = {p: sorted([pt for pt in v.get("points") or [] if _num(pt.get("courier_hours")) is not None and _num(pt.get("mean")) is not None],
                         key=lambda pt: pt["courier_hours"]) for p, v in per.items()}
        allpts = [pt for ps in pts.values() for pt in ps]
        if not allpts:
            return ""
        xs = [pt["courier_hours"] for pt in allpts]
        ys = [y for pt in allpts for y in (_num(pt.get("lo")), pt["mean"], _num(pt.get("hi"))) if y is not None]
        ys += [target] if target is not None else []
        share = k.unit == "%"
        x0, x1, xt = _nice(min(xs) - 0.04 * (max(xs) - min(xs) or max(xs)), max(xs) + 0.04 * (max(xs) - min(xs) or max(xs)), 6)
        ylo, yhi = min(ys), max(ys)
        if share:
            yhi = min(1.0, yhi)
        y0, y1, yt = _nice(ylo - 0.05 * (yhi - ylo or 0.1), yhi + (0 if share and yhi >= 1 else 0.03 * (yhi - ylo or 0.1)), 5)
        if share:
            y0, y1 = max(0.0, y0), min(1.0, y1) if y1 > yhi else y1
            yt = [t for t in yt if y0 - 1e-9 <= t <= y1 + 1e-9]
        c = Chart(1100, 340, (x0, x1), (y0, y1), left=64, right=24, top=18, bottom=46)
        clip = (lambda y: min(max(y, y0), y1))
        body = [c.axes(xt, yt, _g, (lambda t: f"{100 * t:g} %") if share else _g, "courier-hours (shift hours of the whole fleet)",
                       k.label + (" (%)" if share else ""))]
        if target is not None:
            ty = c.sy(target)
            body.append(f'<line class="target" data-target="{target:g}" x1="{c.left}" x2="{c.w - c.right}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
                        f'<text class="target-label" x="{c.left + 6}" y="{ty - 6:.1f}" text-anchor="start">'
                        f'target {esc(fmt(k, target, True))}</text>')
        # knob values along the bottom, at the mean courier-hours of each
        by_value: dict[str, list[float]] = {}
        for pt in allpts:
            by_value.setdefault(_key(pt.get("knob_value")), []).append(pt["courier_hours"])
        for pt in allpts:
            hours = by_value.pop(_key(pt.get("knob_value")), None)
            if hours:
                body.append(f'<text class="knobtick" x="{c.sx(statistics.fmean(hours)):.1f}" y="{c.h - c.bottom - 6}" '
                            f'text-anchor="middle">{esc(self.knob_label(pt.get("knob_value")))}</text>')
        notes = []
        for i, (p, ps) in enumerate(pts.items()):
            colour = self.colour.get(p, PALETTE[i % len(PALETTE)])
            off = (i - (len(pts) - 1) / 2) * 5  # a little apart so whiskers don't hide each other
            line = [(c.sx(pt["courier_hours"]) + off, c.sy(clip(pt["mean"]))) for pt in ps]
            body.append(f'<path class="series" d="{_path(line)}" stroke="{colour}" stroke-dasharray="{self.dash.get(p, "")}"/>')
            for pt, (x, y) in zip(ps, line):
                lo, hi = _num(pt.get("lo")), _num(pt.get("hi"))
                if lo is not None and hi is not None:
                    body.append(f'<line class="whisker" x1="{x:.1f}" x2="{x:.1f}" y1="{c.sy(clip(lo)):.1f}" y2="{c.sy(clip(hi)):.1f}" '
                                f'stroke="{colour}"/>')
                body.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}">'
                            f'<title>{esc(p)} · {esc(self.knob_label(pt.get("knob_value")))} · {pt["courier_hours"]:.0f} courier-h · '
                            f'{esc(fmt(k, pt["mean"], True))} {esc(fmt_interval(k, pt))}</title></circle>')
            smallest = per[p].get("smallest")
            if isinstance(smallest, dict) and _num(smallest.get("courier_hours")) is not None:
                sp = next((pt for pt in ps if _key(pt.get("knob_value")) == _key(smallest.get("knob_value"))), None)
                sx = c.sx(smallest["courier_hours"]) + off
                sy = c.sy(clip(sp["mean"])) if sp else c.sy(target if target is not None else y1)
                body.append(f'<circle class="smallest" data-policy="{esc(p)}" cx="{sx:.1f}" cy="{sy:.1f}" r="10" stroke="{colour}"/>'
                            f'<text class="smallest-label" x="{sx + (-16 if sx > c.w * 0.8 else 16):.1f}" y="{sy + 18 + 4:.1f}" '
                            f'text-anchor="{"end" if sx > c.w * 0.8 else "start"}" fill="{colour}">'
                            f'{esc(p)}: {smallest["courier_hours"]:.0f} h</text>')
                at = f" ({esc(self.knob_title().lower())} {esc(self.knob_label(smallest.get('knob_value')))})" if self.knob_name else ""
                notes.append(f'<li>{self.swatch(p)}<b>{esc(p)}</b> meets the target from '
                             f'<b>{smallest["courier_hours"]:.0f} courier-hours</b>{at}.</li>')
            else:
                best = max(ps, key=lambda pt: pt["mean"]) if ps else None
                notes.append(f'<li>{self.swatch(p)}<b>{esc(p)}</b> does not meet the target at any fleet size tried'
                             + (f' (best {esc(fmt(k, best["mean"], True))} at {best["courier_hours"]:.0f} courier-hours).</li>'
                                if best else ".</li>"))
        saving = fs.get("saving")
        if isinstance(saving, dict) and _num(saving.get("courier_hours_pct")) is not None:
            pct = _num(saving["courier_hours_pct"]) or 0.0
            notes.append(f'<li class="saving"><b>{esc(saving.get("policy"))}</b> needs <b>{abs(pct):.1f} %</b> '
                         f'{"fewer" if pct >= 0 else "more"} courier-hours than {esc(saving.get("vs"))} to meet the target.</li>')
        return (f'<section id="fleet" class="card"><h2>Fleet sizing: service level against courier-hours</h2>'
                f'<p class="note">{esc(k.label)} per fleet size, mean and 95 % interval over the seeds; the dashed line is the target, '
                f'a ring marks the smallest fleet that meets it.</p>{self.legend()}'
                f'{c.svg("".join(body), "Service level against fleet size", "chart wide")}<ul class="notes">{"".join(notes)}</ul></section>')

    # ------------------------------------------------------------------ KPIs against the knob
    def sensitivity(self) -> str:
        if not self.knob_name or len(self.values) < 2:
            return ""
        numeric = all(_num(v) is not None and not isinstance(v, (bool, str)) for v in self.values)
        order = sorted(self.values, key=lambda v: _num(v)) if numeric else self.values  # type: ignore[arg-type, return-value]
        xpos = {(_key(v)): (_num(v) if numeric else float(i)) for i, v in enumerate(order)}
        xs = list(xpos.values())
        pad = 0.1 * (max(xs) - min(xs)) if numeric else 0.35
        charts = []
        for key in ("on_time_share", "ctd_mean", "cost_per_order"):
            k = KPI[key]
            series = {p: [(xpos[_key(v)], m) for v in order if (m := self.metric(p, v, key))] for p in self.policies}
            ys = [y for s in series.values() for _, m in s for y in (m["lo"], m["mean"], m["hi"]) if _num(y) is not None]
            if not ys:
                continue
            if k.unit == "%":
                ys = [min(1.0, max(0.0, y)) for y in ys]
            y0, y1, yt = _nice(min(ys), max(ys), 4)
            if k.unit == "%":
                y0, y1 = max(0.0, y0), min(1.0, y1)
                yt = [t for t in yt if y0 - 1e-9 <= t <= y1 + 1e-9]
            c = Chart(360, 250, (min(xs) - pad, max(xs) + pad), (y0, y1), left=50, right=10, top=10, bottom=40)
            label_of = self._spaced_labels(c, order, xpos)
            body = [c.axes(xs, yt, lambda t, names=label_of: names.get(t, ""), (lambda t: f"{100 * t:g}") if k.unit == "%" else _g,
                           self.knob_title(), f"{k.label} ({k.unit})" if k.unit else k.label)]
            for i, (p, s) in enumerate(series.items()):
                off = (i - (len(series) - 1) / 2) * 4
                pts = [(c.sx(x) + off, c.sy(m["mean"])) for x, m in s]
                if pts:
                    body.append(f'<path class="series" d="{_path(pts)}" stroke="{self.colour[p]}" stroke-dasharray="{self.dash[p]}"/>')
                for (x, y), (_, m) in zip(pts, s):
                    body.append(f'<line class="whisker" x1="{x:.1f}" x2="{x:.1f}" y1="{c.sy(max(y0, min(y1, m["lo"]))):.1f}" '
                                f'y2="{c.sy(max(y0, min(y1, m["hi"]))):.1f}" stroke="{self.colour[p]}"/>'
                                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{self.colour[p]}"/>')
            charts.append(f'<figure><figcaption>{esc(k.label)}</figcaption>{c.svg("".join(body), k.label + " against the knob")}</figure>')
        return (f'<section id="sensitivity" class="card"><h2>Across the values of {esc(self.knob_title().lower())}</h2>'
                f'<p class="note">Mean and 95 % interval over the seeds.</p>{self.legend()}<div class="row3">{"".join(charts)}</div></section>')

    def _spaced_labels(self, chart: Chart, order: Sequence[Any], xpos: dict[str, float]) -> dict[float, str]:
        """Knob labels by x, leaving out those that would run into their left neighbour (the first
        and the last value always keep theirs)."""
        kept: list[tuple[float, str]] = []
        for i, v in enumerate(order):
            x = xpos[_key(v)]
            if kept and chart.sx(x) - chart.sx(kept[-1][0]) < MIN_LABEL_GAP_PX:
                if i < len(order) - 1:
                    continue
                if len(kept) > 1:
                    kept.pop()
            kept.append((x, self.knob_label(v)))
        return dict(kept)

    # ------------------------------------------------------------------ utilisation
    def utilisation(self) -> str:
        panels = []
        for key, title in (("utilisation", "Courier utilisation"), ("orders_per_courier_hour", "Orders per courier-hour")):
            k = KPI[key]
            data = [(v, p, m) for v in self.values for p in self.policies if (m := self.metric(p, v, key))]
            if not data:
                continue
            top = max(max(m["hi"], m["mean"]) for _, _, m in data)
            y0, y1, yt = _nice(0.0, top * 1.12, 4)
            c = Chart(540, 270, (0, len(self.values)), (y0, y1), left=50, right=10, top=12, bottom=40)
            body = [c.axes([], yt, _g, (lambda t: f"{100 * t:g}") if k.unit == "%" else _g,
                           self.knob_title() if self.knob_name else "", f"{k.label} ({k.unit})" if k.unit else k.label)]
            n = len(self.policies)
            slot = (c.sx(1) - c.sx(0))
            bw = min(46.0, slot * 0.7 / max(1, n))
            for vi, v in enumerate(self.values):
                centre = c.sx(vi + 0.5)
                if self.knob_name:
                    body.append(f'<text class="tick" x="{centre:.1f}" y="{c.h - c.bottom + 17}" text-anchor="middle">'
                                f'{esc(self.knob_label(v))}</text>')
                for pi, p in enumerate(self.policies):
                    m = self.metric(p, v, key)
                    if not m:
                        continue
                    x = centre + (pi - n / 2) * bw
                    y = c.sy(m["mean"])
                    body.append(f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{c.sy(0) - y:.1f}" '
                                f'fill="{self.colour[p]}">'
                                f'<title>{esc(p)} {esc(self.knob_label(v)) if self.knob_name else ""}: {esc(fmt(k, m["mean"], True))} '
                                f'{esc(fmt_interval(k, m))}</title></rect>')
                    if not math.isclose(m["lo"], m["hi"]):
                        xm = x + bw / 2
                        body.append(f'<path class="errbar" d="M{xm - 4:.1f},{c.sy(m["lo"]):.1f} H{xm + 4:.1f} M{xm:.1f},{c.sy(m["lo"]):.1f} '
                                    f'V{c.sy(m["hi"]):.1f} M{xm - 4:.1f},{c.sy(m["hi"]):.1f} H{xm + 4:.1f}"/>')
                    if bw >= MIN_VALUE_BAR_PX:  # narrower bars: the value is in the bar's tooltip only
                        body.append(f'<text class="barval" x="{x + bw / 2:.1f}" y="{c.sy(m["hi"]) - 5:.1f}" text-anchor="middle">'
                                    f'{esc(fmt(k, m["mean"], True))}</text>')
            panels.append(f'<figure><figcaption>{esc(title)}</figcaption>{c.svg("".join(body), title)}</figure>')
        if not panels:
            return ""
        return ('<section id="utilisation" class="card"><h2>Courier utilisation</h2>'
                '<p class="note">Utilisation: driving and handling minutes over shift minutes, whole fleet. '
                'Mean and 95 % interval over the seeds.</p>'
                f'{self.legend()}<div class="row2">{"".join(panels)}</div></section>')

    # ------------------------------------------------------------------ knob toggle
    def knob_bar(self) -> str:
        if not self.knob_name:
            return ""
        if len(self.values) == 1:
            return (f'<div id="knob-bar" class="knob-bar">Details below at {esc(self.knob_title().lower())} '
                    f'<b>{esc(self.knob_label(self.values[0]))}</b></div>')
        buttons = "".join(f'<button type="button" data-k="{i}" aria-pressed="{"true" if i == self.ref else "false"}">'
                          f'{esc(self.knob_label(v))}</button>'
                          for i, v in enumerate(self.values))
        return (f'<div id="knob-bar" class="knob-bar"><span>Details below at {esc(self.knob_title().lower())}</span>'
                f'<span class="buttons">{buttons}</span></div>')

    # ------------------------------------------------------------------ differences
    def differences(self) -> str:
        if len(self.policies) < 2:
            return ('<section id="differences" class="card"><h2>Differences between policies</h2>'
                    '<p class="note">Only one policy was run: nothing to compare it with.</p></section>')
        base = self.policies[0]

        def make(_: int, value: Any) -> str:
            tables = []
            for other in self.policies[1:]:
                rows = []
                for key in DIFF_KPIS:
                    k = KPI[key]
                    a, b = self.metric(base, value, key), self.metric(other, value, key)
                    if not a or not b:
                        continue
                    paired = self.paired(base, other, value, key)
                    d = paired or {"mean": b["mean"] - a["mean"], "lo": None, "hi": None}
                    rows.append((k, a, b, d))
                if not rows:
                    continue
                body = []
                for k, a, b, d in rows:
                    lo, hi = _num(d.get("lo")), _num(d.get("hi"))
                    clear = lo is not None and hi is not None and (lo > 0 or hi < 0)
                    if k.better and d["mean"] != 0:
                        good = (d["mean"] > 0) == (k.better == "higher")
                        verdict = (f"{other} better" if good else f"{base} better") if clear else "no clear difference"
                        tone = ("good" if good else "bad") if clear else "flat"
                    else:
                        way = "higher" if d["mean"] > 0 else "lower" if d["mean"] < 0 else "same"
                        verdict, tone = way if clear else "no clear difference", "flat"
                    ci = f"[{fmt_diff(k, lo)}, {fmt_diff(k, hi)}]" if lo is not None and hi is not None and not math.isclose(lo, hi) else ""
                    body.append(f'<tr data-kpi="{k.key}" class="{tone}"><th scope="row">{esc(k.label)}</th><td>{esc(fmt(k, a["mean"], True))}</td>'
                                f'<td>{esc(fmt(k, b["mean"], True))}</td><td class="d"><b>{esc(fmt_diff(k, d["mean"]))}</b>'
                                f'{f"<small>{esc(ci)}</small>" if ci else ""}</td><td class="glyph">{self.glyph(d, tone)}</td>'
                                f'<td class="verdict">{esc(verdict)}</td></tr>')
                tables.append(f'<h3>{self.swatch(other)}{esc(other)} <span class="minus">minus</span> '
                              f'{self.swatch(base)}{esc(base)}{self.at(value)}</h3>'
                              f'<table class="diff"><thead><tr><th>KPI</th><th>{esc(base)}</th><th>{esc(other)}</th><th>Difference</th>'
                              f'<th class="glyph">95 % interval around 0</th><th></th></tr></thead><tbody>{"".join(body)}</tbody></table>')
            return "".join(tables) or '<p class="note">No KPIs to compare at this value.</p>'

        return ('<section id="differences" class="card"><h2>Differences between policies</h2>'
                f'<p class="note">Each policy against {esc(base)}, paired by seed (the same day for both): mean difference and its 95 % interval. '
                'Green: clearly better, red: clearly worse (the interval excludes zero), grey: within the noise of the seeds.</p>'
                f'{self.kv_blocks(make)}</section>')

    def paired(self, base: str, other: str, value: Any, key: str) -> dict[str, float] | None:
        a = {r.get("seed"): _num((r.get("kpis") or {}).get(key)) for r in self.runs_at(base, value)}
        b = {r.get("seed"): _num((r.get("kpis") or {}).get(key)) for r in self.runs_at(other, value)}
        diffs = [b[s] - a[s] for s in a if s in b and a[s] is not None and b[s] is not None]  # type: ignore[operator]
        return interval(diffs) if diffs else None

    @staticmethod
    def glyph(d: dict[str, Any], tone: str) -> str:
        lo, hi, mean = _num(d.get("lo")), _num(d.get("hi")), d["mean"]
        span = max(abs(x) for x in (lo, hi, mean) if x is not None) or 1.0
        w, h, mid = 200, 22, 100

        def x(v: float) -> float:
            return mid + v / span * 88

        parts = [f'<line class="zero" x1="{mid}" x2="{mid}" y1="2" y2="{h - 2}"/>']
        if lo is not None and hi is not None:
            parts.append(f'<line class="ci {tone}" x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{h / 2}" y2="{h / 2}"/>')
        parts.append(f'<circle class="dot {tone}" cx="{x(mean):.1f}" cy="{h / 2}" r="5"/>')
        return f'<svg class="glyph" viewBox="0 0 {w} {h}" role="img" aria-label="difference and interval">{"".join(parts)}</svg>'

    # ------------------------------------------------------------------ click-to-door
    def ctd(self) -> str:
        def make(_: int, value: Any) -> str:
            pooled = {p: sorted(x for r in self.runs_at(p, value) for x in (_num(v) for v in r.get("ctd") or []) if x is not None)
                      for p in self.policies}
            pooled = {p: xs for p, xs in pooled.items() if xs}
            if not pooled:
                return '<p class="note">No click-to-door times in the results.</p>'
            everything = sorted(x for xs in pooled.values() for x in xs)
            top = _quantile(everything, 0.995)
            x0, x1, xt = _nice(0.0, max(top, 1.0), 6)
            step = _ticks(0, x1, 24)
            width = (step[1] - step[0]) if len(step) > 1 else 5.0
            bins = max(1, math.ceil(x1 / width))
            hist = {}
            for p, xs in pooled.items():
                counts = [0] * bins
                for v in xs:
                    counts[min(bins - 1, max(0, int(v // width)))] += 1
                hist[p] = [n / len(xs) for n in counts]
            hmax = max(max(h) for h in hist.values())
            _, y1, yt = _nice(0, hmax * 1.05, 4)
            c = Chart(540, 290, (x0, x1), (0, y1))
            body = [c.axes(xt, yt, _g, lambda t: f"{100 * t:g}", "click-to-door (min)", "share of orders (%)")]
            for p, h in hist.items():
                pts = [(c.sx(0), c.sy(0))]
                for i, share in enumerate(h):
                    pts += [(c.sx(i * width), c.sy(share)), (c.sx((i + 1) * width), c.sy(share))]
                pts.append((c.sx(bins * width), c.sy(0)))
                body.append(f'<path class="hist" d="{_path(pts)} Z" stroke="{self.colour[p]}" fill="{self.colour[p]}" '
                            f'stroke-dasharray="{self.dash[p]}"/>')
            hist_svg = c.svg("".join(body), "Histogram of click-to-door times")

            e = Chart(540, 290, (x0, x1), (0, 1))
            body = [e.axes(xt, [0, 0.25, 0.5, 0.75, 0.9, 1.0], _g, lambda t: f"{100 * t:g}", "click-to-door (min)", "orders delivered within (%)")]
            for p, xs in pooled.items():
                n = len(xs)
                idx = sorted({min(n - 1, round(i * (n - 1) / 300)) for i in range(301)})
                pts = [(e.sx(0), e.sy(0))]
                prev = 0.0
                for i in idx:
                    v = min(xs[i], x1)
                    pts += [(e.sx(v), e.sy(prev)), (e.sx(v), e.sy((i + 1) / n))]
                    prev = (i + 1) / n
                pts.append((e.sx(x1), e.sy(prev)))
                body.append(f'<path class="series ecdf" d="{_path(pts)}" stroke="{self.colour[p]}" stroke-dasharray="{self.dash[p]}"/>')
                p90 = _quantile(xs, 0.9)
                body.append(f'<line class="pmark" x1="{e.sx(p90):.1f}" x2="{e.sx(p90):.1f}" y1="{e.sy(0.9):.1f}" y2="{e.sy(0):.1f}" '
                            f'stroke="{self.colour[p]}"/>')
            ecdf_svg = e.svg("".join(body), "Cumulative distribution of click-to-door times")
            extra = {p: f" — median {_quantile(xs, 0.5):.1f}, p90 {_quantile(xs, 0.9):.1f} min ({len(xs):,} orders)" for p, xs in pooled.items()}
            return (f'<h3>All seeds pooled{self.at(value)}</h3>{self.legend(extra)}<div class="row2">'
                    f'<figure><figcaption>Histogram ({_g(width)}-minute bins)</figcaption>{hist_svg}</figure>'
                    f'<figure><figcaption>Cumulative: share delivered within x minutes (ticks mark each p90)</figcaption>{ecdf_svg}</figure></div>')

        return ('<section id="ctd" class="card"><h2>Click-to-door distribution</h2>'
                '<p class="note">Minutes from the click to the door of every delivered ASAP order.</p>'
                f'{self.kv_blocks(make)}</section>')

    # ------------------------------------------------------------------ over the day
    def over_the_day(self) -> str:
        def make(_: int, value: Any) -> str:
            series: dict[str, dict[int, list[tuple[float, float]]]] = {}
            seeds = 0
            for p in self.policies:
                runs = [r for r in self.runs_at(p, value) if r.get("timeline")]
                seeds = max(seeds, len(runs))
                if runs:
                    series[p] = {col: mean_series([r["timeline"] for r in runs], col) for col in (1, 2)}
            if not series:
                return '<p class="note">No timelines in the results.</p>'
            ts = [t for s in series.values() for pts in s.values() for t, _ in pts]
            t0, t1 = min(ts), max(ts)
            span = t1 - t0 or 60
            stepm = next((m for m in (15, 30, 60, 120, 180, 240, 360, 720) if span / m <= 8), 1440)
            xt = [t for t in range(int(math.ceil(t0 / stepm) * stepm), int(t1) + 1, stepm)]
            # a scenario's clock is minutes since midnight; an MDRP day's counts from the start of its horizon
            mdrp = (self.r.get("source") or {}).get("kind") == "mdrp"
            xfmt, xlabel = (_g, "minutes from the start of the day (MDRP clock)") if mdrp else (clock, "time of day")
            figs = []
            for col, title, ylabel in ((1, "Open orders (placed, not yet picked up)", "open orders"), (2, "Idle couriers", "idle couriers")):
                ys = [y for s in series.values() for _, y in s[col]]
                _, y1, yt = _nice(0, max(ys + [1]) * 1.05, 4)
                c = Chart(540, 260, (t0, t1), (0, y1), bottom=40)
                body = [c.axes(xt, yt, xfmt, _g, xlabel, ylabel)]
                for p, s in series.items():
                    body.append(f'<path class="series" d="{_path((c.sx(t), c.sy(y)) for t, y in s[col])}" stroke="{self.colour[p]}" '
                                f'stroke-dasharray="{self.dash[p]}"/>')
                figs.append(f'<figure><figcaption>{esc(title)}</figcaption>{c.svg("".join(body), title)}</figure>')
            how = f"mean of {seeds} seeds" if seeds > 1 else "one seed"
            return f'<h3>Over the day, {how}{self.at(value)}</h3>{self.legend()}<div class="row2">{"".join(figs)}</div>'

        return f'<section id="day" class="card"><h2>Open orders and idle couriers over the day</h2>{self.kv_blocks(make)}</section>'

    # ------------------------------------------------------------------ maps
    def maps(self) -> str:
        geo = self._geo
        if not geo.paths:
            return ('<section id="maps" class="card"><h2>Where: demand, courier supply and lateness</h2>'
                    '<p class="note">No H3 cells in the results (no per-cell figures were recorded).</p></section>')
        base = self.policies[0] if self.policies else None

        def layer(p: str, value: Any, name: str, absent_zero: bool) -> dict[str, float]:
            """The cell figure averaged over the policy's seeds (absent: 0 for counts, no data for a mean)."""
            sums: dict[str, list[float]] = {}
            for r in self.runs_at(p, value):
                vals = (r.get("cells") or {}).get(name)
                if not isinstance(vals, dict):
                    continue
                for c in geo.paths:
                    v = _num(vals.get(c))
                    if v is None and absent_zero:
                        v = 0.0
                    if v is not None:
                        sums.setdefault(c, []).append(v)
            return {c: statistics.fmean(v) for c, v in sums.items()}

        def make(_: int, value: Any) -> str:
            rows = []
            demand_by = [d for p in self.policies if (d := layer(p, value, "demand", True))]
            demand = {c: statistics.fmean(d[c] for d in demand_by if c in d) for c in geo.paths if any(c in d for d in demand_by)}
            late = {p: v for p in self.policies if (v := layer(p, value, "lateness", False))}
            if any(demand.values()):
                busiest = [c for c in sorted(demand, key=lambda c: (-demand[c], c)) if demand[c] > 0][:8]
                fig = self.heatmap("demand", "Orders placed per cell", None, demand, self.scale("demand", [demand]), "orders",
                                   f"total {sum(demand.values()):,.0f} a day", False, marks=busiest)
                head = "".join(f"<th>{self.swatch(p)}{esc(p)}</th>" for p in late)
                body = "".join(f'<tr><td class="n">{i}</td><td><code>{esc(c)}</code></td><td>{demand[c]:.1f}</td>'
                               + "".join(f"<td>{late[p][c]:.1f}</td>" if c in late[p] else "<td>—</td>" for p in late) + "</tr>"
                               for i, c in enumerate(busiest, 1))
                table = (f'<div class="hot"><h4>Busiest cells (numbered on the map)</h4><table class="hot"><thead><tr><th></th><th>cell</th>'
                         f'<th>orders a day</th>{head}</tr><tr class="sub"><th></th><th></th><th></th>'
                         f'{"".join("<th>min late</th>" for _ in late)}</tr></thead><tbody>{body}</tbody></table></div>')
                rows.append(f'<div class="maprow" data-layer="demand"><h3>Demand: orders placed per drop-off cell, mean per day{self.at(value)}</h3>'
                            f'<div class="maps">{fig}{table}</div>'
                            f'<div class="scales">{self.scale_legend("demand", [demand], "orders")}</div></div>')
            for name, title, unit in (("supply", "Courier supply: idle courier-minutes per cell, mean per day", "courier-min"),
                                      ("lateness", "Lateness: mean minutes late of the orders delivered to the cell", "min late")):
                per = {p: v for p in self.policies if (v := late[p] if name == "lateness" and p in late else
                                                        layer(p, value, name, True) if name == "supply" else {})}
                if not per:
                    continue
                def note(v: dict[str, float], name: str = name) -> str:
                    return f"total {sum(v.values()):,.0f}" if name == "supply" else f"mean {statistics.fmean(v.values()):.2f} over {len(v)} cells"

                figs = [self.heatmap(name, p, p, v, self.scale(name, list(per.values())), unit, note(v), False) for p, v in per.items()]
                diffs = {p: {c: v[c] - per[base][c] for c in v if c in per[base]} for p, v in per.items() if base in per and p != base}
                for p, d in diffs.items():
                    fewer = sum(1 for x in d.values() if x < 0)
                    more = sum(1 for x in d.values() if x > 0)
                    figs.append(self.heatmap(name, f"{p} − {base}", p, d, self.diverging(list(diffs.values())), unit,
                                             f"lower in {fewer}, higher in {more} of {len(d)} cells" if d else "no cell in common", True))
                legend = self.scale_legend(name, list(per.values()), unit) + (self.diverging_legend(list(diffs.values()), unit) if diffs else "")
                rows.append(f'<div class="maprow" data-layer="{name}"><h3>{esc(title)}{self.at(value)}</h3>'
                            f'<div class="maps">{"".join(figs)}</div><div class="scales">{legend}</div></div>')
            return "".join(rows) or '<p class="note">No per-cell figures at this value.</p>'

        return ('<section id="maps" class="card"><h2>Where: demand, courier supply and lateness</h2>'
                '<p class="note">H3 resolution-8 cells (about 0.7 km² each) over the service area, north up. One colour scale per row, so the '
                'policies compare directly; the darkest colour is reached at the 98th percentile of the row, so one odd cell does not wash '
                'out the rest. Difference maps: blue where the policy has less than ' + esc(base or "") + ', red where it has more; grey: '
                'no data. Hover a cell for its figure.'
                + ('' if ((self.r.get("source") or {}).get("area") or {}).get("cells") else
                   ' The results carry no service area (an MDRP day), so only the cells where something happened are drawn.')
                + '</p>' + self.kv_blocks(make) + '</section>')

    @staticmethod
    def _top(layers: list[dict[str, float]], absolute: bool = False) -> float:
        values = sorted(abs(v) if absolute else v for m in layers for v in m.values())
        if not values:
            return 1.0
        top = _quantile(values, 0.98) if len(values) >= 20 else values[-1]
        return top if top > 0 else (values[-1] if values[-1] > 0 else 1.0)

    def scale(self, name: str, layers: list[dict[str, float]]) -> Callable[[float], str]:
        top = self._top(layers)
        return lambda v: _colour(SEQ[name], v / top)

    def diverging(self, layers: list[dict[str, float]]) -> Callable[[float], str]:
        top = self._top(layers, absolute=True)
        return lambda v: _colour(DIVERGING, 0.5 + v / top / 2)

    def scale_legend(self, name: str, layers: list[dict[str, float]], unit: str) -> str:
        top = self._top(layers)
        capped = "≥ " if top < max(v for m in layers for v in m.values()) else ""
        return (f'<div class="scale"><span>0</span><i style="background:linear-gradient(to right,{",".join(SEQ[name])})"></i>'
                f'<span>{capped}{_g(top)} {esc(unit)}</span></div>' + self.nodata_legend())

    def diverging_legend(self, layers: list[dict[str, float]], unit: str) -> str:
        top = self._top(layers, absolute=True)
        return (f'<div class="scale"><em>difference</em><span>−{_g(top)}</span>'
                f'<i style="background:linear-gradient(to right,{",".join(DIVERGING)})"></i><span>+{_g(top)} {esc(unit)}</span></div>')

    @staticmethod
    def nodata_legend() -> str:
        return '<div class="scale"><i class="nodata"></i><span>no data</span></div>'

    def heatmap(self, name: str, title: str, policy: str | None, values: dict[str, float], colour: Callable[[float], str],
                unit: str, summary: str, diff: bool, marks: Sequence[str] = ()) -> str:
        geo = self._geo
        parts = []
        for c, d in geo.paths.items():
            v = values.get(c)
            fill = NO_DATA if v is None else colour(v)
            label = f"{c}: no data" if v is None else f"{c}: {v:+.1f} {unit}" if diff else f"{c}: {v:.1f} {unit}"
            parts.append(f'<path class="hex" d="{d}" fill="{fill}"><title>{esc(label)}</title></path>')
        for i, c in enumerate(marks, 1):
            x, y = geo.centres[c]
            parts.append(f'<text class="mark" x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{i}</text>')
        sw = self.swatch(policy) if policy in self.colour and not diff else ""
        svg = (f'<svg class="map" viewBox="0 0 {geo.w} {geo.h}" role="img" aria-label="{esc(title)} map">'
               f'<rect class="mapbg" width="{geo.w}" height="{geo.h}"/>{"".join(parts)}</svg>')
        return (f'<figure class="heatmap{" diff" if diff else ""}" data-layer="{esc(name)}" data-policy="{esc(policy or "")}">'
                f'<figcaption>{sw}{esc(title)}<small>{esc(summary)}</small></figcaption>{svg}</figure>')

    @property
    def _geo(self) -> Geometry:
        if not hasattr(self, "_geometry"):
            area = [c for c in ((self.r.get("source") or {}).get("area") or {}).get("cells") or [] if isinstance(c, str)]
            cells = set(area)
            for run in self.runs:
                for layer in (run.get("cells") or {}).values():
                    if isinstance(layer, dict):
                        cells.update(c for c in layer if isinstance(c, str))
            self._geometry = Geometry(sorted(cells))
        return self._geometry

    def footer(self) -> str:
        return ('<footer>Made by <code>dispatch compare</code> (simulator/report.py) from results.json, schema '
                f'{esc(self.r.get("schema", "?"))}. Self-contained: no scripts or fonts from elsewhere; prints as it reads.</footer>')


class Geometry:
    """Res-8 hexagons projected equirectangularly (x scaled by cos of the mean latitude), fitted to ``w`` units wide."""

    def __init__(self, cells: list[str], w: float = 340.0, pad: float = 6.0) -> None:
        rings = {}
        for c in cells:
            try:
                if h3.is_valid_cell(c):
                    rings[c] = h3.cell_to_boundary(c)
            except (ValueError, TypeError, h3.H3BaseException):
                continue
        self.paths: dict[str, str] = {}
        self.centres: dict[str, tuple[float, float]] = {}
        self.w, self.h = int(w), int(w)
        if not rings:
            return
        lats = [lat for ring in rings.values() for lat, _ in ring]
        lngs = [lng for ring in rings.values() for _, lng in ring]
        k = math.cos(math.radians(statistics.fmean(lats)))
        west, north = min(lngs), max(lats)
        gw, gh = (max(lngs) - west) * k, north - min(lats)
        scale = (w - 2 * pad) / max(gw, gh * 0.6, 1e-9)  # very tall areas: capped at 1.67 x the width
        self.h = math.ceil(gh * scale + 2 * pad)
        ox = pad + ((w - 2 * pad) - gw * scale) / 2
        for c, ring in rings.items():
            pts = [(ox + (lng - west) * k * scale, pad + (north - lat) * scale) for lat, lng in ring]
            self.paths[c] = _path(pts) + "Z"
            self.centres[c] = (statistics.fmean(x for x, _ in pts), statistics.fmean(y for _, y in pts))


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def mean_series(timelines: Sequence[Sequence[Sequence[float]]], col: int) -> list[tuple[float, float]]:
    """Column ``col`` averaged over the timelines, on the first one's minutes (the others interpolated linearly)."""
    rows = [sorted((float(r[0]), float(r[col])) for r in t if len(r) > col and _num(r[0]) is not None and _num(r[col]) is not None)
            for t in timelines]
    rows = [r for r in rows if r]
    if not rows:
        return []
    grid = [t for t, _ in rows[0]]
    out = []
    for t in grid:
        vals = []
        for r in rows:
            ts = [x for x, _ in r]
            i = bisect_left(ts, t)
            if i < len(r) and r[i][0] == t:
                vals.append(r[i][1])
            elif 0 < i < len(r):
                (ta, ya), (tb, yb) = r[i - 1], r[i]
                vals.append(ya + (yb - ya) * (t - ta) / (tb - ta))
            else:
                vals.append(r[0][1] if i == 0 else r[-1][1])
        out.append((t, statistics.fmean(vals)))
    return out


def render(results: dict[str, Any]) -> str:
    """The whole report page (HTML) for a ``dispatch compare`` results dict of schema 1."""
    return Report(results).page()


CSS = """
:root { --bg: #f3f5f8; --card: #fff; --ink: #1c2430; --muted: #6b7686; --line: #e3e8ef; --accent: #0e9f6e; --accent-soft: #e3f6ee;
        --good: #0e9f6e; --bad: #c0392b; --flat: #9aa3b0; }
* { box-sizing: border-box; }
html, body { margin: 0; }
body { background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
header { background: var(--card); border-bottom: 1px solid var(--line); }
.bar { max-width: 1160px; margin: 0 auto; padding: 12px 20px; display: flex; align-items: baseline; gap: 14px; }
.brand { font-weight: 700; letter-spacing: .2px; } .brand span { color: var(--accent); }
.what { color: var(--ink); } .created { margin-left: auto; color: var(--muted); font-size: 13px; }
main { max-width: 1160px; margin: 0 auto; padding: 18px 20px 32px; display: flex; flex-direction: column; gap: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px;
        box-shadow: 0 1px 2px rgba(20, 30, 50, .04); }
h1 { font-size: 19px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 0 0 4px; } h3 { font-size: 14px; margin: 14px 0 6px; }
h3 .at, h1 .at { color: var(--muted); font-weight: 400; }
.note { color: var(--muted); font-size: 13px; margin: 0 0 10px; }
.label { font-size: 11.5px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin-right: 8px; }
.highlight { background: #f2fbf7; border: 1px solid #bfe6d5; border-left: 5px solid var(--accent); }
.sentences { margin: 0 0 10px; padding-left: 20px; font-size: 15.5px; } .sentences li { margin: 4px 0; }
.cmd { margin: 8px 0; }
.cmd code { font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; background: #fff; border: 1px solid var(--line);
            border-radius: 6px; padding: 3px 7px; word-break: break-all; }
.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 12px; margin: 6px 0 0; font-size: 13px; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; vertical-align: 0; }
.legend { display: flex; gap: 18px; flex-wrap: wrap; font-size: 13px; margin: 2px 0 6px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.kpi { width: 100%; font-size: 12.5px; }
table.kpi th, table.kpi td { padding: 5px 6px; text-align: right; border-bottom: 1px solid var(--line); vertical-align: top; }
table.kpi thead th { font-weight: 600; color: var(--muted); font-size: 11.5px; line-height: 1.25; vertical-align: bottom;
                     border-bottom: 2px solid var(--line); }
table.kpi thead th small { display: block; font-weight: 400; }
table.kpi tbody th { text-align: left; white-space: nowrap; font-weight: 600; }
table.kpi tbody th small { display: block; font-weight: 400; color: var(--muted); font-size: 11px; padding-left: 16px; }
table.kpi td small { display: block; color: var(--muted); font-size: 10.5px; white-space: nowrap; }
table.kpi td.knob { text-align: center; font-weight: 600; } table.kpi td.knob small { font-weight: 400; }
table.kpi tr.first th, table.kpi tr.first td { border-top: 2px solid #cfd7e2; }
table.kpi thead th:first-child { text-align: left; }
table.kpi td.best b { color: var(--accent); } table.kpi td.best { background: var(--accent-soft); }
figure { margin: 0; min-width: 0; } figcaption { font-size: 13px; font-weight: 600; margin: 4px 0 2px; }
figcaption small { display: block; font-weight: 400; color: var(--muted); font-size: 12px; }
.row2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; } .row3 { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 14px; }
svg.chart { display: block; width: 100%; height: auto; }
svg text { font: 11px system-ui, "DejaVu Sans", Arial, sans-serif; fill: #3b4756; }
svg .axis-label { font-size: 11.5px; fill: var(--muted); }
svg .grid { stroke: #edf0f4; } svg .axis { stroke: #9aa3b0; }
svg .series { fill: none; stroke-width: 2.2; stroke-linejoin: round; }
svg .whisker { stroke-width: 2; opacity: .8; } svg .point { stroke: #fff; stroke-width: 1.5; }
svg .hist { fill-opacity: .12; stroke-width: 1.6; }
svg .pmark { stroke-width: 1.2; stroke-dasharray: 2 2; }
svg .target { stroke: #c0392b; stroke-width: 1.6; stroke-dasharray: 7 4; }
svg .target-label { fill: #c0392b; font-weight: 600; font-size: 12px; }
svg .smallest { fill: none; stroke-width: 2.5; } svg .smallest-label { font-weight: 700; font-size: 12px; }
svg .knobtick { fill: var(--muted); font-size: 11px; }
svg .bar { opacity: .9; } svg .errbar { stroke: #1c2430; stroke-width: 1.3; fill: none; } svg .barval { font-size: 10.5px; fill: var(--ink); }
.notes { margin: 6px 0 0; padding-left: 4px; list-style: none; } .notes li { margin: 3px 0; } .notes li.saving { margin-top: 6px; font-size: 15px; }
.knob-bar { position: sticky; top: 0; z-index: 5; background: #1c2430; color: #fff; border-radius: 10px; padding: 8px 14px; display: flex;
            align-items: center; gap: 12px; box-shadow: 0 2px 6px rgba(20, 30, 50, .18); }
.knob-bar .buttons { display: inline-flex; gap: 6px; }
.knob-bar button { font: inherit; font-weight: 600; border: 1px solid #4b5768; background: transparent; color: #dfe5ee; border-radius: 7px;
                   padding: 3px 12px; cursor: pointer; }
.knob-bar button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: #fff; }
.kv { display: none; } .kv.on { display: block; }
table.diff { width: 100%; font-size: 13px; margin-bottom: 4px; }
table.diff th, table.diff td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
table.diff thead th { color: var(--muted); font-weight: 600; font-size: 12px; }
table.diff th[scope="row"], table.diff thead th:first-child { text-align: left; }
table.diff td.d small { color: var(--muted); margin-left: 6px; font-size: 11.5px; }
table.diff td.glyph, table.diff th.glyph { width: 210px; text-align: center; }
svg.glyph { width: 200px; height: 22px; display: block; margin: 0 auto; }
table.diff td.verdict { text-align: left; color: var(--muted); }
table.diff tr.good td.verdict { color: var(--good); font-weight: 600; } table.diff tr.bad td.verdict { color: var(--bad); font-weight: 600; }
svg.glyph .zero { stroke: #9aa3b0; stroke-width: 1; } svg.glyph .ci { stroke-width: 3; stroke-linecap: round; }
svg.glyph .good { stroke: var(--good); fill: var(--good); } svg.glyph .bad { stroke: var(--bad); fill: var(--bad); }
svg.glyph .flat { stroke: var(--flat); fill: var(--flat); }
.minus { color: var(--muted); font-weight: 400; margin: 0 4px; }
.maprow { break-inside: avoid; } .maps { display: flex; flex-wrap: wrap; gap: 12px; }
.heatmap { flex: 1 1 300px; max-width: 370px; } svg.map { display: block; width: 100%; height: auto; }
svg.map .mapbg { fill: #f8f9fb; } svg.map .hex { stroke: #fff; stroke-width: .6; } svg.map .hex:hover { stroke: #1c2430; stroke-width: 1.5; }
svg.map .mark { font-weight: 700; font-size: 10px; fill: #1c2430; paint-order: stroke; stroke: #fff; stroke-width: 2.5px; pointer-events: none; }
.hot { flex: 1 1 300px; font-size: 12.5px; } .hot h4 { margin: 4px 0 6px; font-size: 13px; }
table.hot th, table.hot td { padding: 3px 8px; border-bottom: 1px solid var(--line); text-align: right; }
table.hot thead th { color: var(--muted); font-weight: 600; } table.hot tr.sub th { font-weight: 400; font-size: 11px; padding-top: 0; }
table.hot td.n { font-weight: 700; text-align: center; } table.hot code { font-size: 11.5px; }
.scales { display: flex; flex-wrap: wrap; gap: 22px; font-size: 12px; color: var(--muted); margin-top: 6px; align-items: center; }
.scale { display: inline-flex; align-items: center; gap: 6px; }
.scale i { display: inline-block; width: 150px; height: 10px; border-radius: 3px; border: 1px solid var(--line); }
.scale i.nodata { width: 14px; background: #e6e9ee; } .scale em { font-style: normal; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
@media screen and (max-width: 760px) { .row2, .row3 { grid-template-columns: 1fr; } .facts { grid-template-columns: max-content 1fr; }
  table.diff th, table.diff td { white-space: normal; } table.diff td.glyph, table.diff th.glyph { width: 130px; } svg.glyph { width: 120px; } }
@media print {
  body { background: #fff; font-size: 12px; } main { max-width: none; padding: 0; } header { border: 0; }
  .card { box-shadow: none; break-inside: avoid; border-color: #d5dbe3; } #maps, #kpi, #differences { break-inside: auto; }
  .knob-bar { position: static; background: #fff; color: var(--ink); box-shadow: none; border: 1px solid var(--line); }
  .knob-bar button { display: none; } .knob-bar button[aria-pressed="true"] { display: inline-block; color: #fff; }
  .scroll { overflow: visible; }
  table.kpi { font-size: 9.5px; } table.kpi thead th { font-size: 9px; } table.kpi td small, table.kpi th small { font-size: 8px; }
  table.kpi th, table.kpi td { padding: 3px 2px; } table.kpi .sw { margin-right: 3px; }
  table.diff { font-size: 11px; } table.diff th, table.diff td { white-space: normal; padding: 3px 4px; }
  table.diff td.glyph, table.diff th.glyph { width: 130px; } svg.glyph { width: 120px; }
  .heatmap { flex-basis: 200px; } .hot { flex-basis: 260px; }
}
"""

JS = """
"use strict";
document.querySelectorAll("#knob-bar button").forEach(function (button) {
  button.addEventListener("click", function () {
    var k = button.dataset.k;
    document.querySelectorAll(".kv").forEach(function (block) { block.classList.toggle("on", block.dataset.k === k); });
    document.querySelectorAll("#knob-bar button").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.k === k)); });
  });
});
"""
