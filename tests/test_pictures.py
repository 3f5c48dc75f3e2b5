"""The README's graph pictures show the ops the code runs now.

``docs/make_pictures.py`` draws them and writes into each PNG the names of the ops it shows; here the
same program builds the same graph (not drawn) and the names must be equal. When they are not, the
picture is stale: run ``python docs/make_pictures.py``.
"""

from __future__ import annotations

import importlib.util
import struct
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _script():
    spec = importlib.util.spec_from_file_location("make_pictures", DOCS / "make_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_text(path: Path) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, uncompressed iTXt) of a PNG file, key -> text."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path.name} is not a PNG file"
    text, at = {}, 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        at += 12 + length  # length, type, body, CRC
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            text[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _language, _, rest = rest.partition(b"\0")
            _translated, _, value = rest.partition(b"\0")
            text[key.decode("latin-1")] = (zlib.decompress(value) if compressed else value).decode("utf-8")
        elif kind == b"IEND":
            break
    return text


SCRIPT = _script()


@pytest.mark.parametrize(("name", "setting"), sorted(SCRIPT.PICTURES.items()))
def test_the_picture_records_the_ops_the_code_runs_now(name, setting):
    recorded = png_text(DOCS / name)
    assert recorded.get(SCRIPT.SETTING_KEY) == setting, f"docs/{name}: {recorded}"
    drawn = recorded[SCRIPT.OPS_KEY].split(",")
    now = SCRIPT.op_names(SCRIPT.lenet_graph(setting))
    assert drawn == now, (
        f"docs/{name} shows the ops {drawn}, but the README's program now runs {now} under "
        f"{setting!r}: the picture is stale, run `python docs/make_pictures.py`")


def test_the_pictures_show_the_fast_ops_and_the_reference_op():
    """What the README says of them: under the default, LeNet's convs name the fast ops that ran;
    under "reference", Conv2dFn on both."""
    convs = {setting: [op for op in png_text(DOCS / name)[SCRIPT.OPS_KEY].split(",") if "Conv2d" in op]
             for name, setting in SCRIPT.PICTURES.items()}
    assert convs["reference"] == ["Conv2dFn", "Conv2dFn"]
    assert "Conv2dFn" not in convs["default"] and len(convs["default"]) == 2


def test_the_readme_shows_both_pictures_and_names_their_conv_ops():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SCRIPT.PICTURES:
        assert f"](docs/{name})" in readme, f"the README does not show docs/{name}"
        for op in {op for op in png_text(DOCS / name)[SCRIPT.OPS_KEY].split(",") if "Conv2d" in op}:
            assert f"`{op}`" in readme, f"docs/{name} shows {op}, which the README does not name"


def test_the_script_writes_what_the_test_reads(tmp_path):
    """A picture drawn with the script's metadata carries its ops (on a batch of 2: cheap to draw)."""
    graph = SCRIPT.lenet_graph("reference", batch=2)
    path = graph.save(tmp_path / "g.png", metadata=SCRIPT.metadata(graph, "reference"))
    text = png_text(path)
    assert text[SCRIPT.OPS_KEY].split(",") == SCRIPT.op_names(graph)
    assert SCRIPT.op_names(graph)[0] == "CrossEntropyFn" and SCRIPT.op_names(graph)[-1] == "Conv2dFn"
    with pytest.raises(ValueError, match="metadata is written by the matplotlib engine only"):
        graph.save(tmp_path / "g.svg", engine="dot", metadata={"a": "b"})
