"""The comparison report (``simulator.report.render``) on a fixed results dict, as text and in a real browser.

The results come from ``report_fixture`` (no simulation): two policies, three seeds, a fleet knob with
three values, res-8 cells around People's Square. The text tests check the figures the page prints
(means, intervals, paired differences, the fleet answer), that every section is there, that hostile
names are escaped and that nothing points off the page. The browser test opens the file in Debian's
chromium through Playwright (skipped without it, failed when ``CI`` is set), checks what a reader sees,
that the page makes no request and logs no error, and takes a full-page screenshot; it refreshes
``docs/report.png`` only when ``O2O_SCREENSHOT=1``.
"""
from __future__ import annotations

import copy
import html
import os
import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import launch_chromium
from report_fixture import build_results, service_area, single

from simulator.report import KPI, fmt_diff, fmt_interval, interval, mean_series, render

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report.png"
HOSTILE = "<script>alert('x')</script>&\"quoted\""


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return build_results()


@pytest.fixture(scope="module")
def page_html(results: dict[str, Any]) -> str:
    return render(results)


def section(text: str, ident: str) -> str:
    """The HTML of ``<section id=ident>`` (sections do not nest)."""
    start = text.index(f'<section id="{ident}"')
    return text[start:text.index("</section>", start)]


def kpi_row(text: str, policy: str, knob: str) -> str:
    start = text.index(f'<tr class="first" data-policy="{policy}" data-knob="{knob}">' if policy == "greedy"
                       else f'<tr data-policy="{policy}" data-knob="{knob}">')
    return text[start:text.index("</tr>", start)]


def group(results: dict[str, Any], policy: str, value: Any) -> dict[str, Any]:
    return next(g for g in results["groups"] if g["policy"] == policy and g["knob_value"] == value)["metrics"]


def test_the_kpi_table_has_a_row_per_policy_and_knob_value_with_mean_and_interval(results: dict[str, Any], page_html: str) -> None:
    rows = re.findall(r'<tr(?: class="first")? data-policy="([^"]*)" data-knob="([^"]*)">', section(page_html, "kpi"))
    assert rows == [(p, k) for k in ("0.8×", "1.0×", "1.2×") for p in ("greedy", "ortools")]
    row = kpi_row(page_html, "ortools", "1.0×")
    on_time, ctd = group(results, "ortools", 1.0)["on_time_share"], group(results, "ortools", 1.0)["ctd_mean"]
    assert f"<b>{100 * on_time['mean']:.1f}</b>" in row
    assert on_time["hi"] > 1, "the fixture's interval passes 100 %, which the table must not show"
    assert f"<small>[{100 * on_time['lo']:.1f}, 100.0]</small>" in row
    assert f"<b>{ctd['mean']:.1f}</b><small>[{ctd['lo']:.1f}, {ctd['hi']:.1f}]</small>" in row
    assert "n = 3" in row and f"{group(results, 'ortools', 1.0)['orders']['mean']:,.0f} orders" in row
    # the better policy at each knob value is marked on on-time share
    assert re.search(r'<td class="best"><b>' + re.escape(f"{100 * on_time['mean']:.1f}"), row)


def test_every_section_is_there_in_reading_order(page_html: str) -> None:
    order = ["summary", "kpi", "fleet", "sensitivity", "utilisation", "knob-bar", "differences", "ctd", "day", "maps"]
    positions = [page_html.index(f'id="{ident}"') for ident in order]
    assert positions == sorted(positions)
    maps = section(page_html, "maps")
    assert maps.count('<figure class="heatmap') == 3 * 7  # per fleet value: demand, supply x2 + diff, lateness x2 + diff
    assert maps.count('<path class="hex"') == 3 * 7 * len(service_area())
    assert maps.count('data-layer="lateness" data-policy="ortools"') == 3 * 2  # ortools' own map and its difference map
    assert "ortools − greedy" in maps and "Busiest cells" in maps
    for ident in ("differences", "ctd", "day", "maps"):
        blocks = re.findall(r'<div class="kv( on)?" data-k="(\d)">', section(page_html, ident))
        assert blocks == [("", "0"), (" on", "1"), ("", "2")], f"{ident}: one block per fleet value, 1.0x shown first"


def test_the_summary_and_command_are_at_the_top(results: dict[str, Any], page_html: str) -> None:
    top = section(page_html, "summary")
    for sentence in results["summary"]:
        assert f"<li>{html.escape(sentence)}</li>" in top
    assert html.escape(results["command"]) in top
    assert "scenario · demo_city" in top and "Fleet multiplier: 0.8×, 1.0×, 1.2×" in top and "95 % on time" in top


def test_the_fleet_chart_draws_the_target_and_marks_the_smallest_fleet(results: dict[str, Any], page_html: str) -> None:
    fleet = section(page_html, "fleet")
    assert fleet.count('class="target" data-target="0.95"') == 1
    assert "target 95.0 %" in fleet
    smallest = {p: v["smallest"] for p, v in results["fleet_sizing"]["per_policy"].items()}
    assert smallest["ortools"]["knob_value"] == 1.0 and smallest["greedy"]["knob_value"] == 1.2
    for policy in ("greedy", "ortools"):
        assert f'class="smallest" data-policy="{policy}"' in fleet
        assert f'{smallest[policy]["courier_hours"]:.0f} courier-hours' in fleet
    saving = results["fleet_sizing"]["saving"]["courier_hours_pct"]
    assert f"<b>{saving:.1f} %</b> fewer courier-hours than greedy" in fleet


def test_the_differences_are_paired_by_seed(results: dict[str, Any], page_html: str) -> None:
    runs = {(r["policy"], r["seed"]): r["kpis"] for r in results["runs"] if r["knob_value"] == 1.0}
    diffs = [runs[("ortools", s)]["ctd_mean"] - runs[("greedy", s)]["ctd_mean"] for s in results["seeds"]]
    expected = interval(diffs)
    block = re.search(r'<div class="kv on" data-k="1">(.*?)</table>', section(page_html, "differences"), re.DOTALL).group(1)
    row = re.search(r'<tr data-kpi="ctd_mean" class="(\w+)">(.*?)</tr>', block).groups()
    k = KPI["ctd_mean"]
    assert f"<b>{fmt_diff(k, expected['mean'])}</b>" in row[1]
    assert html.escape(f"[{fmt_diff(k, expected['lo'])}, {fmt_diff(k, expected['hi'])}]") in row[1]
    assert expected["hi"] < 0 and row[0] == "good" and "ortools better" in row[1]
    assert 'data-kpi="on_time_share" class="good"' in block


def test_hostile_names_are_escaped_everywhere(results: dict[str, Any]) -> None:
    hostile = copy.deepcopy(results)
    for item in hostile["runs"] + hostile["groups"]:
        if item["policy"] == "ortools":
            item["policy"] = HOSTILE
    hostile["policies"] = ["greedy", HOSTILE]
    hostile["fleet_sizing"]["per_policy"][HOSTILE] = hostile["fleet_sizing"]["per_policy"].pop("ortools")
    hostile["source"]["name"] = '"><img src=x onerror=alert(1)>'
    hostile["summary"] = [f"{HOSTILE} wins"]
    hostile["command"] = "dispatch compare --policy '<b>'"
    text = render(hostile)
    assert text.count("<script") == 1, "only the page's own toggle script"
    assert "<img" not in text and "<b>'" not in text and "alert('x')" not in text
    escaped = html.escape(HOSTILE, quote=True)
    assert f"<li>{escaped} wins</li>" in text
    assert f'data-policy="{escaped}"' in text and f"{escaped} − greedy" in text


def test_the_page_points_nowhere_off_itself(page_html: str) -> None:
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page_html.replace("</", "<")), "no URL of any host"
    assert "http://" not in page_html and "https://" not in page_html
    assert not re.search(r"(?i)\ssrc\s*=", page_html), "no src attribute at all: nothing is loaded"
    assert re.findall(r'(?i)\shref\s*=\s*"([^"]*)"', page_html) == ["data:,"], "the one href is the empty data: favicon"
    assert "Content-Security-Policy" in page_html and "default-src 'none'" in page_html


def test_one_policy_one_seed_no_knob_no_cells(results: dict[str, Any]) -> None:
    text = render(single(results))
    rows = re.findall(r'<tr(?: class="first")? data-policy="([^"]*)" data-knob="([^"]*)">', section(text, "kpi"))
    assert rows == [("greedy", "—")]
    assert "<small>[" not in section(text, "kpi"), "no interval with one seed"
    assert 'id="fleet"' not in text and 'id="sensitivity"' not in text and 'id="knob-bar"' not in text
    assert "Only one policy was run" in section(text, "differences")
    assert "No H3 cells" in section(text, "maps")
    assert 'class="series ecdf"' in section(text, "ctd") and "one seed" in section(text, "day")
    assert "greedy delivers" in section(text, "summary"), "sentences are made when the results carry none"
    assert "10:30" in section(text, "day") and "time of day" in section(text, "day")
    mdrp = single(results)
    mdrp["source"].update(kind="mdrp", name="0o100t100s1p100")
    for run in mdrp["runs"]:
        run["timeline"] = [[row[0] - 600, *row[1:]] for row in run["timeline"]]
    day = section(render(mdrp), "day")
    assert "minutes from the start of the day" in day and ":30<" not in day, "an MDRP day's clock is not a time of day"


def test_missing_groups_are_computed_from_the_runs_and_knob_values_match_as_numbers(results: dict[str, Any], page_html: str) -> None:
    bare = copy.deepcopy(results)
    bare["groups"] = []
    bare["knob"]["values"] = [0.8, 1, 1.2]  # 1 and the runs' 1.0 are the same value
    bare["summary"] = []
    text = render(bare)
    assert section(text, "kpi") == section(page_html, "kpi")
    assert "Fleet multiplier: 0.8×, 1.0×, 1.2×" in text
    top = section(text, "summary")
    assert "On time at fleet multiplier 1.0×: ortools" in top and "better than greedy" in top


def test_details_open_on_the_value_the_summary_describes(results: dict[str, Any]) -> None:
    """As ``simulator.compare.reference_value``: the city's own value of the knob (batching on), else the last value."""
    switch = copy.deepcopy(results)
    switch["knob"], switch["fleet_sizing"] = {"name": "batching", "values": ["off", "on", "later"]}, None
    for item in switch["runs"] + switch["groups"]:
        item["knob_value"] = {0.8: "off", 1.0: "on", 1.2: "later"}[item["knob_value"]]
    assert '<div class="kv on" data-k="1">' in section(render(switch), "maps")
    switch["knob"]["name"] = "rings"
    assert '<div class="kv on" data-k="2">' in section(render(switch), "maps")


def test_partial_cells_leave_grey_hexagons(results: dict[str, Any]) -> None:
    patchy = copy.deepcopy(results)
    for run in patchy["runs"]:
        run["cells"].pop("supply")
        run["cells"]["lateness"] = dict(list(run["cells"]["lateness"].items())[:10])
    patchy["runs"][0]["cells"]["demand"]["not-a-cell"] = 3
    text = render(patchy)
    maps = section(text, "maps")
    assert 'data-layer="supply"' not in maps and 'data-layer="lateness"' in maps
    assert 'fill="#e6e9ee"' in maps, "cells without a figure are grey"


def sparse(results: dict[str, Any], case: str) -> dict[str, Any]:
    r = copy.deepcopy(results)
    if case == "empty":
        return {}
    if case == "nulls":
        r["source"]["area"], r["summary"], r["knob"] = None, None, None
        r["fleet_sizing"]["per_policy"]["greedy"]["smallest"] = None
        r["fleet_sizing"]["saving"] = None
    if case == "holes":
        for run in r["runs"]:
            run["kpis"]["ctd_mean"], run["ctd"], run["timeline"], run["cells"] = None, [float("nan")], [], {"supply": None}
        for g in r["groups"]:
            g["metrics"]["ctd_mean"] = {"mean": None, "lo": None, "hi": None}
    return r


@pytest.mark.parametrize("case", ["empty", "nulls", "holes"])
def test_sparse_results_still_render(results: dict[str, Any], case: str) -> None:
    text = render(sparse(results, case))
    for ident in ("summary", "kpi", "differences", "ctd", "day", "maps"):
        assert f'<section id="{ident}"' in text
    if case == "nulls":
        assert "does not meet the target" in section(text, "fleet") and "fewer courier-hours" not in text
    if case == "holes":
        assert "No click-to-door times" in text and "No timelines" in text and "No per-cell figures" in text
        assert "<b>—</b>" in section(text, "kpi"), "a missing KPI shows as a dash"


def test_helpers() -> None:
    share = KPI["on_time_share"]
    assert fmt_interval(share, {"mean": 0.97, "lo": 0.93, "hi": 1.02}) == "[93.0, 100.0]"
    assert fmt_interval(share, {"mean": 0.97, "lo": 0.97, "hi": 0.97}) == ""
    assert fmt_interval(KPI["late_mean_min"], {"mean": 0.2, "lo": -0.1, "hi": 0.5}) == "[0.00, 0.50]"
    assert fmt_diff(KPI["ctd_mean"], -6.44) == "−6.4 min" and fmt_diff(share, 0.118) == "+11.8 pts"
    ci = interval([1.0, 2.0, 3.0])
    assert ci is not None and ci["mean"] == 2.0 and ci["hi"] - 2.0 == pytest.approx(4.303 * 1.0 / 3 ** 0.5)
    assert interval([5.0]) == {"mean": 5.0, "lo": 5.0, "hi": 5.0}
    series = mean_series([[[0, 2, 0, 0, 0], [10, 4, 0, 0, 0]], [[0, 4, 0, 0, 0], [5, 6, 0, 0, 0], [10, 8, 0, 0, 0]]], 1)
    assert series == [(0.0, 3.0), (10.0, 6.0)]
    assert statistics.fmean([3.0, 6.0]) == 4.5


# ---------------------------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def shrink_png(path: Path) -> None:
    """A palette PNG, a third of the bytes, when Pillow is installed: the page is flat colours, so nothing visible is lost."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def test_the_report_reads_in_chromium(browser: Any, results: dict[str, Any], page_html: str, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(page_html, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
    context.set_default_timeout(10_000)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    try:
        page.goto(report.as_uri())
        assert page.title() == "Policy comparison — demo_city"
        summary = page.locator("#summary li")
        assert summary.all_inner_texts() == results["summary"]
        assert summary.first.is_visible()
        assert page.locator("#kpi tbody tr").count() == len(results["groups"]) == 6

        # the detail sections open at today's fleet (1.0x): seven visible maps, each with every hexagon drawn
        maps = page.locator("#maps .kv.on figure.heatmap")
        assert maps.count() == 7 and page.locator("#maps figure.heatmap:visible").count() == 7
        assert maps.evaluate_all("fs => fs.map(f => f.querySelectorAll('path.hex').length)") == [len(service_area())] * 7
        box = page.locator("#maps .kv.on figure.heatmap svg").first.bounding_box()
        assert box is not None and box["width"] > 250 and box["height"] > 200, f"a map is big enough to read: {box}"
        assert "1.0×" in page.locator("#maps .kv.on h3").first.inner_text()

        # the fleet chart: the target line is drawn where 95 % is on the y axis (read off the axis' own tick labels)
        target = page.locator("#fleet line.target")
        assert target.count() == 1 and page.locator("#fleet text.target-label").text_content() == "target 95.0 %"
        ticks = page.locator("#fleet text.tick").evaluate_all(
            "ts => ts.filter(t => t.textContent.endsWith(' %')).map(t => [parseFloat(t.textContent), parseFloat(t.getAttribute('y')) - 4])")
        (v0, y0), (v1, y1) = ticks[0], ticks[-1]
        assert len(ticks) >= 3 and v0 != v1
        assert float(target.get_attribute("y1")) == pytest.approx(y0 + (95 - v0) * (y1 - y0) / (v1 - v0), abs=0.5)
        assert page.locator("#fleet circle.smallest").count() == 2

        # the knob bar switches every detail section to another fleet size
        page.click("#knob-bar button[data-k='0']")
        assert page.locator("#knob-bar button[aria-pressed='true']").inner_text() == "0.8×"
        assert "0.8×" in page.locator("#maps .kv.on h3").first.inner_text()
        assert page.locator("#differences .kv.on h3").inner_text().endswith("at fleet multiplier 0.8×")
        assert page.locator("#maps figure.heatmap:visible").count() == 7
        page.click("#knob-bar button[data-k='1']")

        shot = SCREENSHOT if os.environ.get("O2O_SCREENSHOT") else tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 100_000, "the screenshot holds the rendered page"
        if shot == SCREENSHOT:
            shrink_png(shot)
    finally:
        context.close()
    assert requests == [report.as_uri()], f"the page loads nothing but itself: {requests}"
    assert not errors, f"console errors or warnings: {errors}"


def test_crowded_knob_labels_are_thinned_so_none_overlap() -> None:
    """Ten fleet values on a 360 px chart: 0.8x ... 1.6x sit 30 px apart or less, so every other
    label goes; the first and the last stay, and no two kept labels are closer than the gap."""
    from simulator.report import MIN_LABEL_GAP_PX, Chart, Report, _key

    values = [0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 2.0]
    chart = Chart(360, 250, (0.68, 2.12), (0.0, 1.0), left=50, right=10)
    kept = Report(build_results())._spaced_labels(chart, values, {_key(v): v for v in values})
    assert kept[0.8] == "0.8×" and kept[2.0] == "2.0×"
    assert 4 <= len(kept) < len(values)
    xs = sorted(chart.sx(x) for x in kept)
    assert all(b - a >= MIN_LABEL_GAP_PX for a, b in zip(xs, xs[1:]))
    wide = Chart(1200, 250, (0.68, 2.12), (0.0, 1.0), left=50, right=10)
    assert len(Report(build_results())._spaced_labels(wide, values, {_key(v): v for v in values})) == len(values)
