"""read_mdrp: the tiny hand-made day, layout leniency, every kind of bad input, and a real day."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from mdrp_fixtures import INSTANCE, write_instance

from dispatch.geo import PlanarFrame
from dispatch.modes import DeliveryMode, asap_window
from dispatch.rules import ServiceRules
from dispatch.travel import MdrpTravel
from simulator.errors import InputError
from simulator.mdrp import MDRP_CAPACITY, read_mdrp

SHARED_MDRP = Path(__file__).resolve().parents[2].parent / "shared/bench/delivery/mdrp"


def changed(name: str, lines: list[str]) -> dict[str, list[str]]:
    files = {k: list(v) for k, v in INSTANCE.items()}
    files[name] = lines
    return files


def with_line(name: str, index: int, line: str) -> dict[str, list[str]]:
    """INSTANCE with line ``index`` (0 = header) of ``name`` replaced."""
    lines = list(INSTANCE[name])
    lines[index] = line
    return changed(name, lines)


def test_reads_the_tiny_day(tmp_path: Path) -> None:
    inst = read_mdrp(write_instance(tmp_path / "tiny"), region_res=6)
    assert inst.name == "tiny"
    assert [s.id for s in inst.stores] == ["r1", "r2", "r3"]
    assert [o.id for o in inst.orders] == ["o1", "o2", "o3", "o4", "o5"]
    assert [c.id for c in inst.couriers] == ["c1", "c2"]
    assert inst.region_res == 6
    assert inst.rules == ServiceRules(4.0, 4.0, 40.0, 90.0, 10.0, 15.0)
    assert inst.travel == MdrpTravel(320.0)
    assert inst.meta["name"] == "tiny" and inst.meta["frame"] == PlanarFrame()
    assert inst.meta["path"] == str(tmp_path / "tiny")

    o2 = inst.orders[1]
    assert (o2.store_id, o2.placed_at, o2.ready_at, o2.mode, o2.size) == ("r1", 6.0, 16.0, DeliveryMode.ASAP, 1)
    assert o2.window == asap_window(6.0, 40.0, 90.0)
    assert (o2.dropoff.x, o2.dropoff.y) == (1600.0, 0.0)
    c2 = inst.couriers[1]
    assert (c2.on_time, c2.off_time, c2.capacity) == (0.0, 60.0, MDRP_CAPACITY)
    assert (c2.location.x, c2.location.y) == (3200.0, 640.0)
    assert inst.courier_hours == pytest.approx(2.5)

    # planar metres survive the lat/lng mapping, so travel follows the MDRP rule exactly
    stores = inst.store_by_id()
    o1 = inst.orders[0]
    assert inst.travel.minutes(stores["r1"].location, o1.dropoff) == 5.0
    assert inst.travel.minutes(o1.dropoff, o2.dropoff) == 8.0  # ceil(2262.74 / 320)


def test_uses_the_given_frame(tmp_path: Path) -> None:
    frame = PlanarFrame(lat0=31.2, lng0=121.5)
    inst = read_mdrp(write_instance(tmp_path / "d"), frame=frame)
    r2 = inst.store_by_id()["r2"].location
    assert r2 == frame.location(3200, 0)
    assert inst.meta["frame"] is frame


def test_orders_sorted_by_placement_then_id(tmp_path: Path) -> None:
    lines = [INSTANCE["orders.txt"][0], "o10\t1\t1\t7\tr1\t9", "o9\t1\t1\t7\tr1\t9", "o2\t1\t1\t3\tr2\t9"]
    inst = read_mdrp(write_instance(tmp_path / "d", changed("orders.txt", lines)))
    assert [o.id for o in inst.orders] == ["o2", "o9", "o10"]


def test_lenient_layout(tmp_path: Path) -> None:
    """Spaces or mixed whitespace, trailing blanks, blank lines, CRLF, a BOM and reordered columns all read."""
    d = write_instance(tmp_path / "d")
    (d / "orders.txt").write_text(
        "\ufefforder  x y\tplacement_time restaurant   ready_time  \r\n"
        "o1 0 1600   5 r1 15 \r\n"
        "\r\n"
        "o2\t1600\t0\t6\tr1\t16\t\r\n",
        encoding="utf-8",
    )
    (d / "restaurants.txt").write_text("x\ty\trestaurant\n0\t0\tr1\n\n\n", encoding="utf-8")
    (d / "instance_parameters.txt").write_text(
        "meters_per_minute pickup service minutes dropoff service minutes target click-to-door "
        "maximum click-to-door pay per order guaranteed pay per hour\n320 4 4 40 90 10 15.0\n",
        encoding="utf-8",
    )
    inst = read_mdrp(d)
    assert [(o.id, o.placed_at, o.ready_at) for o in inst.orders] == [("o1", 5.0, 15.0), ("o2", 6.0, 16.0)]
    assert [(s.id, s.location.x) for s in inst.stores] == [("r1", 0.0)]
    assert inst.rules.pay_per_hour == 15.0


ERRORS = [
    # (case, file, line, field, message fragment)
    ("not_whole", with_line("orders.txt", 3, "o3\t3200\t1600\t10\tr2\tabc"), "orders.txt", 4, "ready_time", "'abc' is not a whole number"),
    ("fraction", with_line("orders.txt", 1, "o1\t0\t1600.5\t5\tr1\t15"), "orders.txt", 2, "y", "'1600.5' is not a whole number"),
    ("negative", with_line("restaurants.txt", 2, "r2\t-3200\t0"), "restaurants.txt", 3, "x", "'-3200' is negative"),
    ("ready_before_placed", with_line("orders.txt", 2, "o2\t1600\t0\t6\tr1\t5"), "orders.txt", 3, "ready_time", "before the placement time"),
    ("off_not_after_on", with_line("couriers.txt", 2, "c2\t3200\t640\t60\t60"), "couriers.txt", 3, "off_time", "not after the on time"),
    ("unknown_restaurant", with_line("orders.txt", 4, "o4\t0\t4800\t12\tr7\t25"), "orders.txt", 5, "restaurant", "unknown restaurant 'r7'"),
    ("duplicate_id", with_line("orders.txt", 4, "o2\t0\t4800\t12\tr3\t25"), "orders.txt", 5, "order", "duplicate id 'o2' (first on line 3)"),
    ("duplicate_across_files", with_line("couriers.txt", 2, "r2\t3200\t640\t0\t60"), "couriers.txt", 3, "courier", "duplicate id 'r2' (first on restaurants.txt line 3)"),
    ("zero_id", with_line("couriers.txt", 2, "0\t3200\t640\t0\t60"), "couriers.txt", 3, "courier", "'0' cannot be an id"),
    ("missing_column", with_line("couriers.txt", 0, "courier\tx\ty\ton_time"), "couriers.txt", 1, "off_time", "missing column 'off_time'"),
    ("extra_column", with_line("restaurants.txt", 0, "restaurant\tx\ty\tname"), "restaurants.txt", 1, "name", "unexpected column 'name'"),
    ("twice_column", with_line("restaurants.txt", 0, "restaurant\tx\ty\tx"), "restaurants.txt", 1, "x", "appears twice"),
    ("missing_value", with_line("orders.txt", 2, "o2\t1600\t0\t6\tr1"), "orders.txt", 3, "ready_time", "missing value"),
    ("extra_value", with_line("orders.txt", 2, "o2\t1600\t0\t6\tr1\t16\t99"), "orders.txt", 3, None, "'99' is extra"),
    ("zero_speed", with_line("instance_parameters.txt", 1, "0\t4\t4\t40\t90\t10\t15"), "instance_parameters.txt", 2, "meters_per_minute", "must be positive"),
    ("max_below_target", with_line("instance_parameters.txt", 1, "320\t4\t4\t40\t30\t10\t15"), "instance_parameters.txt", 2, "maximum click-to-door", "below the target"),
    ("two_parameter_rows", changed("instance_parameters.txt", INSTANCE["instance_parameters.txt"] + ["320\t4\t4\t40\t90\t10\t15"]), "instance_parameters.txt", 3, None, "exactly one"),
    ("no_parameter_row", changed("instance_parameters.txt", INSTANCE["instance_parameters.txt"][:1]), "instance_parameters.txt", None, None, "no data row"),
    ("empty_file", changed("restaurants.txt", []), "restaurants.txt", None, None, "the file is empty"),
]


@pytest.mark.parametrize(("files", "name", "line", "field", "fragment"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_names_file_line_and_field(
    tmp_path: Path, files: dict[str, list[str]], name: str, line: int | None, field: str | None, fragment: str
) -> None:
    with pytest.raises(InputError) as info:
        read_mdrp(write_instance(tmp_path / "d", files))
    err = info.value
    assert err.path.name == name and err.line == line and err.field == field
    assert fragment in err.message
    text = str(err)
    if line is not None:
        where = f"{name} line {line}" + (f", field {field}" if field else "")
        assert text.startswith(where + ": "), text
    else:
        assert text.startswith(str(tmp_path / "d" / name) + ": "), text


def test_message_reads_like_the_spec(tmp_path: Path) -> None:
    files = with_line("orders.txt", 5, "o5\t3200\t3200\t100\tr2\tabc")
    files["orders.txt"].insert(1, "o0\t1\t1\t1\tr1\t2")  # the bad row moves to line 7
    with pytest.raises(InputError) as info:
        read_mdrp(write_instance(tmp_path / "d", files))
    assert str(info.value) == "orders.txt line 7, field ready_time: 'abc' is not a whole number"


def test_missing_directory_and_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_mdrp(tmp_path / "nowhere")
    assert info.value.path == tmp_path / "nowhere" and info.value.line is None
    assert "directory not found" in str(info.value)

    d = write_instance(tmp_path / "d")
    (d / "couriers.txt").unlink()
    with pytest.raises(InputError) as info:
        read_mdrp(d)
    assert info.value.path == d / "couriers.txt"
    assert str(info.value) == f"{d / 'couriers.txt'}: file not found"


def test_input_error_pickles() -> None:
    err = InputError("/x/orders.txt", "'abc' is not a whole number", 7, "ready_time")
    back = pickle.loads(pickle.dumps(err))
    assert (back.path, back.line, back.field, str(back)) == (err.path, 7, "ready_time", str(err))


def test_reads_a_real_mdrp_day() -> None:
    directory = SHARED_MDRP / "0r50t100s1p100"
    if not directory.is_dir():
        pytest.skip("../shared/bench not present: real MDRP data is outside a user's clone")
    inst = read_mdrp(directory)
    assert (len(inst.orders), len(inst.stores), len(inst.couriers)) == (242, 54, 61)
    assert inst.name == "0r50t100s1p100"
    assert inst.travel == MdrpTravel(320.0)
    assert inst.courier_hours == pytest.approx(151.48, abs=0.01)  # instance_characteristics.txt
    placed = [(o.placed_at, o.id) for o in inst.orders]
    assert placed == sorted(placed, key=lambda p: (p[0], int(p[1][1:])))
