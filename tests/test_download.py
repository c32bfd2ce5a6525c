"""Tests of ``jetprof download`` against a local HTTP server (Range, drops, bad bytes, errors)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import uproot

from jetprof.cli import main
from jetprof.data.download import ZENODO_MD5, remotes


def tiny_root(path: Path, label: int, n: int = 20) -> bytes:
    """A small ROOT file with a TTree ``tree`` (a few JetClass branches); returns its bytes."""
    import awkward as ak

    rng = np.random.default_rng(label)
    counts = rng.integers(1, 6, n)
    with uproot.recreate(path) as f:
        f.mktree(
            "tree",
            {
                "part": ak.zip(
                    {"px": ak.unflatten(np.ones(counts.sum(), np.float32), counts)}
                ).type,
                "jet_pt": np.float32,
                "label_Hbb": np.bool_,
            },
        )
        f["tree"].extend(
            {
                "part": ak.zip(
                    {"px": ak.unflatten(rng.normal(size=counts.sum()).astype(np.float32), counts)}
                ),
                "jet_pt": rng.uniform(500, 1000, n).astype(np.float32),
                "label_Hbb": np.full(n, label == 1),
            }
        )
    return path.read_bytes()


def make_tarball(path: Path, folder: str, members: dict[str, bytes]) -> str:
    """Write a tarball with ``folder/<name>`` members (plus a README); return its MD5."""
    with tarfile.open(path, "w") as tar:
        for name, data in {**members, "README.txt": b"not a root file\n"}.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.md5(path.read_bytes()).hexdigest()


@dataclass
class Server:
    """State and switches of the test HTTP server."""

    root: Path
    url: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    drop_once_at: int | None = None  # cut the connection after this many body bytes, once
    drop_every: int | None = None  # cut every answer after this many more body bytes (a flaky link)
    # send no Content-Length and end the body by closing the connection after this many
    # bytes, once: the client cannot tell the body was cut
    close_cut_once_at: int | None = None
    corrupt: bool = False  # serve wrong bytes
    status: int | None = None  # answer every request with this status


def _handler(state: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            if state.status is not None:
                self.send_error(state.status)
                return
            target = state.root / unquote(self.path).lstrip("/")
            if not target.is_file():
                self.send_error(404)
                return
            data = target.read_bytes()
            if state.corrupt:
                data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
            start = 0
            if rng:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            close_cut, state.close_cut_once_at = state.close_cut_once_at, None
            if close_cut is None:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if close_cut is not None:
                self.wfile.write(body[:close_cut])
                self.wfile.flush()
                self.close_connection = True
                return
            if state.drop_once_at is not None or state.drop_every is not None:
                cut = state.drop_once_at if state.drop_once_at is not None else state.drop_every
                state.drop_once_at = None
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def serving(root: Path, folder: str) -> Iterator[Server]:
    """A local HTTP server for ``root`` (on 127.0.0.1, a free port), ``state.url`` at ``folder``."""
    state = Server(root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/{folder}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "srv"
    root.mkdir()
    with serving(root, "files") as state:
        yield state


@pytest.fixture
def dataset(server: Server, tmp_path: Path) -> dict[str, str]:
    """Tarballs val_5M (2 classes) and test_20M (1 class); returns part -> MD5."""
    files = server.root / "files"
    files.mkdir()
    roots = tmp_path / "roots"
    roots.mkdir()
    val = {
        "HToBB_120.root": tiny_root(roots / "a.root", 1),
        "ZJetsToNuNu_120.root": tiny_root(roots / "b.root", 0),
    }
    # padding makes the tarball big enough to cut in the middle of a ROOT file
    test = {"HToBB_100.root": tiny_root(roots / "c.root", 1, n=8000)}
    return {
        "val_5M": make_tarball(files / "JetClass_Pythia_val_5M.tar", "val_5M", val),
        "test_20M": make_tarball(files / "JetClass_Pythia_test_20M.tar", "test_20M", test),
    }


def _args(
    server: Server, tmp_path: Path, md5: dict[str, str], parts: str = "val_5M,test_20M"
) -> list[str]:
    out = [
        "download",
        "--source",
        "zenodo",
        "--base-url",
        server.url,
        "--parts",
        parts,
        "--dest",
        str(tmp_path / "dataset"),
        "--cache",
        str(tmp_path / "cache"),
        "--backoff",
        "0",
        "--retries",
        "2",
        "--no-progress",
    ]
    for part, digest in md5.items():
        out += ["--md5", f"{part}={digest}"]
    return out


def test_published_table() -> None:
    assert len(ZENODO_MD5) == 12 and ZENODO_MD5["val_5M"] == "7235ccb577ed85023ea3ab4d5e6160cf"
    (r,) = remotes("zenodo", ["train_100M_part3"], None)
    assert r.url == "https://zenodo.org/records/6619768/files/JetClass_Pythia_train_100M_part3.tar"
    assert r.digest == "47348fc8985319fa4806da87500482fa" and r.algorithm == "md5"
    (ex,) = remotes("example", [], None, sha256={"example": "ab" * 32})
    assert ex.filename == "JetClass_example_100k.root" and ex.algorithm == "sha256"


def test_download_extract_and_rerun(
    server: Server, dataset: dict[str, str], tmp_path: Path
) -> None:
    assert main(_args(server, tmp_path, dataset)) == 0
    dest = tmp_path / "dataset"
    record = json.loads((dest / "download.json").read_text())
    assert record["files"] == {
        "train": [],
        "val": ["val/HToBB_120.root", "val/ZJetsToNuNu_120.root"],
        "test": ["test/HToBB_100.root"],
    }
    assert [p["digest"] for p in record["parts"]] == [dataset["val_5M"], dataset["test_20M"]]
    with uproot.open(dest / "test" / "HToBB_100.root") as f:
        assert f["tree"].num_entries == 8000
    assert not list(dest.glob(".extract-*")) and not list((tmp_path / "cache").glob("*.part"))
    assert (tmp_path / "cache" / "JetClass_Pythia_val_5M.tar.md5ok").is_file()
    assert len(server.requests) == 2
    # rerun: nothing downloaded again
    assert main(_args(server, tmp_path, dataset)) == 0
    assert len(server.requests) == 2
    # extracted files deleted: re-extracted from the cached tarball, still no download
    (dest / "val" / "HToBB_120.root").unlink()
    (dest / "test" / "HToBB_100.root").write_bytes(b"half")  # wrong size counts as missing
    assert main(_args(server, tmp_path, dataset)) == 0
    assert len(server.requests) == 2
    with uproot.open(dest / "val" / "HToBB_120.root") as f:
        assert f["tree"].num_entries == 20
    with uproot.open(dest / "test" / "HToBB_100.root") as f:
        assert f["tree"].num_entries == 8000
    # tarballs deleted to save disk: the extracted files suffice, nothing is fetched
    for tarball in (tmp_path / "cache").glob("*.tar"):
        tarball.unlink()
    assert main(_args(server, tmp_path, dataset)) == 0
    assert len(server.requests) == 2
    assert json.loads((dest / "download.json").read_text()) == record
    # ... unless one is missing again: then the tarball is fetched again
    (dest / "val" / "HToBB_120.root").unlink()
    assert main(_args(server, tmp_path, dataset)) == 0
    assert [r[0] for r in server.requests[2:]] == ["/files/JetClass_Pythia_val_5M.tar"]
    assert (dest / "val" / "HToBB_120.root").is_file()


def test_processes_filter(server: Server, dataset: dict[str, str], tmp_path: Path) -> None:
    assert main([*_args(server, tmp_path, dataset, parts="val_5M"), "--processes", "QCD"]) == 0
    record = json.loads((tmp_path / "dataset" / "download.json").read_text())
    assert record["files"]["val"] == ["val/ZJetsToNuNu_120.root"] and record["processes"] == [
        "ZJetsToNuNu"
    ]
    assert not (tmp_path / "dataset" / "val" / "HToBB_120.root").exists()


def test_resume_after_dropped_connection(
    server: Server, dataset: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = (server.root / "files" / "JetClass_Pythia_test_20M.tar").stat().st_size
    cut = size * 3 // 4
    assert cut > 1 << 16  # past the first 64 KiB block the client writes
    server.drop_once_at = cut
    assert main(_args(server, tmp_path, dataset, parts="test_20M")) == 0
    assert server.requests[0] == ("/files/JetClass_Pythia_test_20M.tar", None)
    path, rng = server.requests[1]
    start = int(rng.removeprefix("bytes=").removesuffix("-"))
    assert path == "/files/JetClass_Pythia_test_20M.tar" and 0 < start <= cut
    assert len(server.requests) == 2
    tarball = tmp_path / "cache" / "JetClass_Pythia_test_20M.tar"
    assert hashlib.md5(tarball.read_bytes()).hexdigest() == dataset["test_20M"]
    assert "resuming (try 1/2)" in capsys.readouterr().err


def test_resume_from_part_file_of_an_earlier_run(
    server: Server, dataset: dict[str, str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    src = (server.root / "files" / "JetClass_Pythia_val_5M.tar").read_bytes()
    (cache / "JetClass_Pythia_val_5M.tar.part").write_bytes(src[:1000])
    assert main(_args(server, tmp_path, dataset, parts="val_5M")) == 0
    assert server.requests == [("/files/JetClass_Pythia_val_5M.tar", "bytes=1000-")]
    assert (cache / "JetClass_Pythia_val_5M.tar").read_bytes() == src


def test_md5_mismatch(
    server: Server, dataset: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.corrupt = True
    assert main(_args(server, tmp_path, dataset, parts="val_5M")) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    cache = tmp_path / "cache"
    got = hashlib.md5(
        bytes(
            b ^ 0xFF
            for b in (server.root / "files" / "JetClass_Pythia_val_5M.tar").read_bytes()[:64]
        )
        + (server.root / "files" / "JetClass_Pythia_val_5M.tar").read_bytes()[64:]
    ).hexdigest()
    assert err == (
        f"jetprof download: error: {cache / 'JetClass_Pythia_val_5M.tar'}: MD5 mismatch: "
        f"expected {dataset['val_5M']}, got {got}; the bad download was removed"
    )
    assert list(cache.iterdir()) == []
    assert not (tmp_path / "dataset" / "download.json").exists()
    # the published MD5 (no override) does not match our test tarball either
    server.corrupt = False
    assert main(_args(server, tmp_path, {}, parts="val_5M")) == 1
    assert "expected 7235ccb577ed85023ea3ab4d5e6160cf" in capsys.readouterr().err


@pytest.mark.parametrize("status", [500, 404])
def test_server_error(
    server: Server,
    dataset: dict[str, str],
    tmp_path: Path,
    status: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.status = status
    assert main(_args(server, tmp_path, dataset, parts="val_5M")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(
        f"jetprof download: error: {server.url}/JetClass_Pythia_val_5M.tar: HTTP {status}"
    )
    assert len(server.requests) == 1  # not retried
    assert not (tmp_path / "dataset").exists()


def test_gives_up_after_bounded_retries(
    server: Server, dataset: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.status = 503  # retried as transient
    assert main(_args(server, tmp_path, dataset, parts="val_5M")) == 1
    assert len(server.requests) == 3  # first try + 2 retries
    err = capsys.readouterr().err.strip().splitlines()
    assert "resuming (try 2/2)" in err[-2]
    assert (
        err[-1]
        == f"jetprof download: error: {server.url}/JetClass_Pythia_val_5M.tar: HTTP 503 Service Unavailable"
    )


def test_giving_up_on_a_flaky_link_says_what_is_kept_for_resuming(
    server: Server, dataset: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = (server.root / "files" / "JetClass_Pythia_test_20M.tar").stat().st_size
    server.drop_every = (1 << 16) + 1000  # every answer is cut a little past the client's first 64 KiB block
    args = _args(server, tmp_path, dataset, parts="test_20M")
    args[args.index("--retries") + 1] = "1"
    assert size > 2 * server.drop_every  # so the retry is cut too
    assert main(args) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    (part,) = tmp_path.rglob("*.part")
    kept = part.stat().st_size
    assert line.startswith("jetprof download: error: ") and "after 1 retry:" in line
    assert kept >= 1 << 16 and f"the {kept:,} bytes that arrived are kept in {part}" in line, line
    server.drop_every = None  # the link is mended: the next run resumes from the kept bytes
    assert main(_args(server, tmp_path, dataset, parts="test_20M")) == 0
    assert server.requests[-1][1] == f"bytes={kept}-"


def test_example_source_split(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = server.root / "files"
    files.mkdir()
    data = tiny_root(files / "JetClass_example_100k.root", 1, n=100)
    sha = hashlib.sha256(data).hexdigest()
    args = [
        "download",
        "--source",
        "example",
        "--base-url",
        server.url,
        "--dest",
        str(tmp_path / "ds"),
        "--cache",
        str(tmp_path / "cache"),
        "--no-progress",
        "--backoff",
        "0",
    ]
    assert main([*args, "--sha256", f"example={sha}"]) == 0
    record = json.loads((tmp_path / "ds" / "download.json").read_text())
    assert record["files"]["train"] == ["train/JetClass_example_100k_train.root"]
    entries = {}
    for split in ("train", "val", "test"):
        with uproot.open(tmp_path / "ds" / split / f"JetClass_example_100k_{split}.root") as f:
            t = f["tree"]
            entries[split] = t.num_entries
            assert {"part_px", "jet_pt", "label_Hbb"} <= set(t.keys())
    assert entries == {"train": 80, "val": 10, "test": 10}
    with (
        uproot.open(tmp_path / "ds" / "val" / "JetClass_example_100k_val.root") as f,
        uproot.open(files / "JetClass_example_100k.root") as g,
    ):
        assert (
            f["tree"]["jet_pt"].array(library="np").tolist()
            == g["tree"]["jet_pt"].array(library="np")[80:90].tolist()
        )
    # unpinned: downloads, warns with the hash to pin
    capsys.readouterr()
    assert main([*args, "--dest", str(tmp_path / "ds2"), "--cache", str(tmp_path / "cache2")]) == 0
    err = capsys.readouterr().err
    assert f"dataset.download.sha256: {{example: {sha}}}" in err and f"--sha256 example={sha}" in err


# --------------------------------------------------------------------------- bodies cut short


def _example_args(server: Server, tmp_path: Path, *extra: str, retries: int = 2) -> list[str]:
    return [
        "download", "--source", "example", "--base-url", server.url,
        "--dest", str(tmp_path / "ds"), "--cache", str(tmp_path / "cache"),
        "--no-progress", "--backoff", "0", "--retries", str(retries), *extra,
    ]


@pytest.fixture
def example(server: Server, tmp_path: Path) -> bytes:
    """The example file on the server: one ROOT file big enough to cut in its middle."""
    files = server.root / "files"
    files.mkdir()
    return tiny_root(files / "JetClass_example_100k.root", 1, n=8000)


def _range_start(request: tuple[str, str | None]) -> int | None:
    rng = request[1]
    return None if rng is None else int(rng.removeprefix("bytes=").removesuffix("-"))


def test_close_delimited_cut_is_resumed_not_blessed(
    server: Server, example: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the fault: no Content-Length, the body ends early, nothing tells the client; unpinned
    cut = len(example) * 3 // 4
    server.close_cut_once_at = cut
    assert main(_example_args(server, tmp_path)) == 0
    assert [_range_start(r) for r in server.requests] == [None, cut]
    err = capsys.readouterr().err
    assert f"truncated: {cut} bytes, the ROOT header says {len(example)}" in err
    assert "resuming (try 1/2)" in err
    cached = tmp_path / "cache" / "JetClass_example_100k.root"
    assert cached.read_bytes() == example
    assert json.loads(cached.with_name(cached.name + ".md5ok").read_text())["checked"]
    with uproot.open(tmp_path / "ds" / "train" / "JetClass_example_100k_train.root") as f:
        assert f["tree"].num_entries == 6400


def test_cut_file_is_never_stamped_and_the_next_run_resumes_it(
    server: Server, example: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = len(example) // 2
    server.close_cut_once_at = cut
    assert main(_example_args(server, tmp_path, retries=0)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    cache = tmp_path / "cache"
    assert err == (
        f"jetprof download: error: {cache / 'JetClass_example_100k.root'}: truncated: {cut} bytes, "
        f"the ROOT header says {len(example)} after 0 retries; the partial download is kept as "
        "JetClass_example_100k.root.part and resumed on the next run"
    )
    assert sorted(p.name for p in cache.iterdir()) == ["JetClass_example_100k.root.part"]
    assert not (tmp_path / "ds" / "download.json").exists()
    # the next run asks only for the missing bytes
    assert main(_example_args(server, tmp_path, retries=0)) == 0
    assert [_range_start(r) for r in server.requests] == [None, cut]
    assert (cache / "JetClass_example_100k.root").read_bytes() == example


def test_pinned_short_read_is_resumed_not_discarded(
    server: Server, dataset: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = (server.root / "files" / "JetClass_Pythia_test_20M.tar").stat().st_size
    cut = size // 2
    server.close_cut_once_at = cut
    assert main(_args(server, tmp_path, dataset, parts="test_20M")) == 0
    assert [_range_start(r) for r in server.requests] == [None, cut]
    err = capsys.readouterr().err
    assert "mismatch" not in err and "resuming (try 1/2)" in err
    tarball = tmp_path / "cache" / "JetClass_Pythia_test_20M.tar"
    assert hashlib.md5(tarball.read_bytes()).hexdigest() == dataset["test_20M"]


def test_pinned_example_short_read_is_resumed(
    server: Server, example: bytes, tmp_path: Path
) -> None:
    sha = hashlib.sha256(example).hexdigest()
    server.close_cut_once_at = 5000
    assert main(_example_args(server, tmp_path, "--sha256", f"example={sha}")) == 0
    assert [_range_start(r) for r in server.requests] == [None, 5000]


def test_file_blessed_unchecked_by_an_older_jetprof_is_fetched_again(
    server: Server, example: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = cache / "JetClass_example_100k.root"
    cut = len(example) - 4000
    cached.write_bytes(example[:cut])
    st = cached.stat()
    stamp = {"algorithm": None, "digest": None, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    cached.with_name(cached.name + ".md5ok").write_text(json.dumps(stamp))
    assert main(_example_args(server, tmp_path)) == 0
    assert f"{cached}: truncated: {cut} bytes" in capsys.readouterr().err
    assert [_range_start(r) for r in server.requests] == [cut]
    assert cached.read_bytes() == example


def test_file_truncated_on_the_server_is_refused_and_removed(
    server: Server, example: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = server.root / "files" / "JetClass_example_100k.root"
    source.write_bytes(example[: len(example) // 3])
    assert main(_example_args(server, tmp_path)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith(
        f"truncated: {len(example) // 3} bytes, the ROOT header says {len(example)} "
        "(the server has no more bytes); the bad download was removed"
    )
    assert list((tmp_path / "cache").iterdir()) == []
    # a Range request found nothing more (416): no endless retries
    assert [_range_start(r) for r in server.requests] == [None, len(example) // 3]


def test_truncated_tarball_is_told_from_its_missing_end_marker(tmp_path: Path) -> None:
    from jetprof.data.formats import format_problem

    tar = tmp_path / "a.tar"
    make_tarball(tar, "val_5M", {"HToBB_120.root": b"x" * 3000})
    assert format_problem(tar) is None
    data = tar.read_bytes()
    # cut inside a member, at a member boundary (the README header) and inside the end marker
    for cut in (1000, 512 + 3072, 512 + 3072 + 512 + 512 + 10):
        (tmp_path / "b.tar").write_bytes(data[:cut])
        problem = format_problem(tmp_path / "b.tar")
        assert problem is not None and problem.short, (cut, problem)
    (tmp_path / "c.tar").write_bytes(b"<html>not found</html>" * 40)
    problem = format_problem(tmp_path / "c.tar")
    assert problem is not None and not problem.short
