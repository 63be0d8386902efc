"""``detect --triage``: each anomaly gets the model's suggestion (a stub server here); without the
flag the output is byte for byte what it was; a set-up that cannot work is one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import jsonschema
import pytest

from tests.helpers import mixed_table
from tests.triage_server import Reply, StubServer, free_port_url, good
from tui_detector import cli
from tui_detector.core.export import schema
from tui_detector.core.triage import config as triage_config


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv(triage_config.CONFIG_DIR_ENV, str(tmp_path / "config"))
    for name in (triage_config.URL_ENV, triage_config.MODEL_ENV, triage_config.KEY_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    frame, _ = mixed_table(300)
    path = tmp_path_factory.mktemp("t") / "orders.csv"
    frame.to_csv(path, index=False)
    return path


def detect_here(capsys, *args):
    code = cli.main(["detect", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_without_triage_the_output_is_byte_for_byte_the_same(table, tmp_path, capsys, monkeypatch, private_data_dir):
    detect_here(capsys, table, "--model", "iforest")  # a cached model and a store with a run
    saved = tmp_path / "saved"
    shutil.copytree(private_data_dir, saved)
    _, plain, plain_err = detect_here(capsys, table, "--model", "iforest", "--all-rows")
    # An endpoint configured everywhere but not asked for: nothing is sent, nothing changes.
    shutil.rmtree(private_data_dir)
    shutil.copytree(saved, private_data_dir)  # the very state the plain run started from
    folder = tmp_path / "config"
    folder.mkdir()
    with StubServer() as server:
        (folder / "triage.toml").write_text(f'url = "{server.url}"\nmodel = "m"\n')
        monkeypatch.setenv(triage_config.URL_ENV, server.url)
        monkeypatch.setenv(triage_config.MODEL_ENV, "m")
        _, configured, configured_err = detect_here(capsys, table, "--model", "iforest", "--all-rows")
        assert server.bodies == []
    assert configured == plain and configured_err == plain_err
    assert "triage" not in plain


def test_triage_adds_a_suggestion_to_every_anomaly_and_changes_no_score(table, capsys):
    _, plain, _ = detect_here(capsys, table, "--model", "iforest", "--all-rows")
    with StubServer() as server:
        code, out, err = detect_here(capsys, table, "--model", "iforest", "--all-rows", "--triage", "--triage-url", server.url, "--triage-model", "stub")
        asked = len(server.bodies)
        assert code == 0 and err == ""
        doc = json.loads(out)
        jsonschema.validate(doc, schema())
        before = json.loads(plain)
        assert doc["scores"] == before["scores"]
        assert [a["row_index"] for a in doc["anomalies"]] == [a["row_index"] for a in before["anomalies"]]
        # The same anomalies, each with its suggestion (and flagged by the plain run before it).
        assert {a["recurring"] for a in doc["anomalies"]} == {True}
        same = [{k: v for k, v in a.items() if k not in ("triage", "recurring")} for a in doc["anomalies"]]
        assert same == [{k: v for k, v in a.items() if k != "recurring"} for a in before["anomalies"]]
        assert asked == doc["anomaly_count"] > 0
        assert all(a["triage"]["verdict"] in ("suspicious", "likely_benign") and a["triage"]["model"] == "stub" for a in doc["anomalies"])
        assert all(a["review"] is None for a in doc["anomalies"])  # a suggestion is not a verdict
        assert doc["triage"] | {"url": None} == {
            "model": "stub", "url": None, "prompt_version": 1, "anomalies": asked, "answered": asked,
            "from_store": 0, "failed": 0, "not_asked": 0, "problem": None,
        }

        # Reopened: the answers come from the review store, nothing is asked again.
        _, out, _ = detect_here(capsys, table, "--model", "iforest", "--triage", "--triage-url", server.url, "--triage-model", "stub")
        again = json.loads(out)
        assert len(server.bodies) == asked
        assert again["triage"]["from_store"] == asked and again["triage"]["answered"] == 0
        assert [a["triage"] for a in again["anomalies"]] == [a["triage"] for a in doc["anomalies"]]


def test_the_key_is_sent_as_a_bearer_token_and_never_written(table, capsys, monkeypatch):
    seen = []
    with StubServer(lambda body: good(body)) as server:
        original = server.server.RequestHandlerClass.do_POST

        def recording(handler):
            seen.append(handler.headers.get("Authorization"))
            original(handler)

        server.server.RequestHandlerClass.do_POST = recording
        monkeypatch.setenv(triage_config.KEY_ENV, "sk-local-secret")
        code, out, err = detect_here(capsys, table, "--model", "iforest", "--triage", "--triage-url", server.url, "--triage-model", "stub")
    assert code == 0 and set(seen) == {"Bearer sk-local-secret"}
    assert "sk-local-secret" not in out and "sk-local-secret" not in err


def test_an_endpoint_that_is_down_leaves_the_results_and_says_so_once(table, capsys):
    code, out, err = detect_here(capsys, table, "--model", "iforest", "--triage", "--triage-url", free_port_url(), "--triage-model", "stub")
    assert code == 0
    doc = json.loads(out)
    jsonschema.validate(doc, schema())
    assert all(a["triage"] is None for a in doc["anomalies"])
    assert doc["triage"]["problem"].startswith("cannot reach the triage endpoint")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: triage: cannot reach the triage endpoint")


def test_a_server_error_fails_only_its_rows(table, capsys):
    calls = [0]

    def answer(body):
        calls[0] += 1
        return Reply(status=500, raw="{}") if calls[0] % 3 == 0 else good(body)

    with StubServer(answer) as server:
        code, out, err = detect_here(capsys, table, "--model", "iforest", "--triage", "--triage-url", server.url, "--triage-model", "stub", "--triage-in-flight", "1")
    doc = json.loads(out)
    failed = [a for a in doc["anomalies"] if a["triage"] is None]
    assert code == 0 and 0 < len(failed) < len(doc["anomalies"])
    assert doc["triage"]["failed"] == len(failed) and "500 Internal Server Error" in doc["triage"]["problem"]
    assert err.count("note: triage:") == 1


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--triage", "--triage-url", "http://10.9.8.7:8080/v1", "--triage-model", "m"], "is not on this machine"),
        (["--triage"], "--triage needs an endpoint"),
        (["--triage", "--triage-url", "http://127.0.0.1:1/v1"], "no triage model named"),
        (["--triage-url", "http://127.0.0.1:1/v1"], "--triage-url applies with --triage"),
        (["--triage-top", "5"], "--triage-top applies with --triage"),
    ],
)
def test_a_set_up_that_cannot_work_is_one_line_before_any_reading(tmp_path, capsys, extra, fragment):
    missing = tmp_path / "never-read.csv"
    missing.write_text("a,b\n1,2\n")
    code, out, err = detect_here(capsys, missing, *extra)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [err.strip()] and err.startswith("error: ") and fragment in err


def test_remote_with_the_flag_is_allowed(table, capsys, monkeypatch):
    # An address that is not loopback, allowed: the request is made (and here refused at once).
    code, out, err = detect_here(
        capsys, table, "--model", "iforest", "--triage", "--triage-url", "http://192.0.2.1:9/v1", "--triage-model", "m",
        "--triage-allow-remote", "--triage-timeout", "0.5",
    )
    assert code == 0 and json.loads(out)["triage"]["problem"]


@pytest.mark.slow
def test_without_httpx_triage_says_how_to_install_it(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    # The import is blocked as if the package were not installed.
    script = "import sys; sys.modules['httpx'] = None; from tui_detector.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", script, "detect", str(path), "--triage", "--triage-url", "http://127.0.0.1:1/v1", "--triage-model", "m"],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(),
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == "error: triage needs the httpx package: pip install 'anomaly-tui[triage]'"


def test_the_app_takes_the_endpoint_flags(table, monkeypatch):
    import tui_detector.ui.app as ui_app

    seen = {}

    class Ran:
        return_code = 0

    def fake_make_app(path, **options):
        seen.update(options, path=path)
        return Ran()

    monkeypatch.setattr(ui_app, "make_app", fake_make_app)
    monkeypatch.setattr(ui_app, "run_app", lambda app: None)
    assert cli.main([str(table), "--triage-url", "http://127.0.0.1:8080/v1", "--triage-model", "foundation-sec", "--triage-in-flight", "3"]) == 0
    assert seen["path"] == table
    assert seen["triage"] == {"url": "http://127.0.0.1:8080/v1", "model": "foundation-sec", "allow_remote": False, "timeout": None, "in_flight": 3}


def test_triage_top_asks_only_about_the_highest_ranked(table, capsys):
    with StubServer() as server:
        code, out, err = detect_here(capsys, table, "--model", "iforest", "--triage", "--triage-url", server.url, "--triage-model", "stub", "--triage-top", "3")
        asked = len(server.bodies)
    doc = json.loads(out)
    assert code == 0 and asked == 3
    assert [a["triage"] is not None for a in doc["anomalies"]] == [True] * 3 + [False] * (doc["anomaly_count"] - 3)
    assert doc["triage"]["anomalies"] == doc["anomaly_count"] and doc["triage"]["answered"] == 3
    assert doc["triage"]["not_asked"] == doc["anomaly_count"] - 3
