"""Where the triage model is: flags, environment variables, a small config file; checked.

Precedence: a command-line flag, then ``ANOMALY_TUI_TRIAGE_URL`` / ``_MODEL``, then
``triage.toml`` in the user config directory. The API key comes from
``ANOMALY_TUI_TRIAGE_API_KEY`` only: a key in the config file, in the URL or in the project
would end up copied, committed or exported with the results.

Rows of a spreadsheet are sensitive: the endpoint must be on this machine (its host name
resolves to loopback addresses only) unless the user passes ``--triage-allow-remote``.
"""

from __future__ import annotations

import ipaddress
import math
import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import AnomalyTuiError

URL_ENV = "ANOMALY_TUI_TRIAGE_URL"
MODEL_ENV = "ANOMALY_TUI_TRIAGE_MODEL"
KEY_ENV = "ANOMALY_TUI_TRIAGE_API_KEY"
#: Overrides the folder the config file is read from (tests; a portable set-up).
CONFIG_DIR_ENV = "ANOMALY_TUI_CONFIG_DIR"
CONFIG_FILE = "triage.toml"

#: Seconds one request may take before it counts as unanswered (a CPU-only 8B model answers a
#: short prompt in tens of seconds).
DEFAULT_TIMEOUT = 120.0
#: Requests in flight at once: a local server runs one or a few slots; more only queue there.
DEFAULT_IN_FLIGHT = 2
MAX_IN_FLIGHT = 8
_FILE_KEYS = {"url", "model", "timeout", "in_flight"}


class TriageConfigError(AnomalyTuiError):
    """The triage set-up cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class TriageConfig:
    """A checked endpoint: ``url`` is the API's base (``http://127.0.0.1:8080/v1``)."""

    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    in_flight: int = DEFAULT_IN_FLIGHT
    allow_remote: bool = False

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/chat/completions"

    def describe(self) -> dict[str, Any]:
        """What the JSON output says about the endpoint (never the key)."""
        return {"model": self.model, "url": self.url}


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    folder = env.get(CONFIG_DIR_ENV)
    if folder:
        return Path(folder).expanduser() / CONFIG_FILE
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_config_dir("anomaly-tui", appauthor=False)) / CONFIG_FILE


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings ({} when there is none); a bad file is a one-line error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise TriageConfigError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TriageConfigError(f"{path} is not valid TOML: {exc}") from None
    if "api_key" in data:
        raise TriageConfigError(f"{path} holds an api_key: keys are read from {KEY_ENV} only, never from a file")
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise TriageConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(_FILE_KEYS))})")
    return data


def resolve(
    *,
    url: str | None = None,
    model: str | None = None,
    allow_remote: bool = False,
    timeout: float | None = None,
    in_flight: int | None = None,
    env: Mapping[str, str] | None = None,
    check_host: bool = True,
) -> TriageConfig | None:
    """The endpoint to use, or None when none is configured anywhere. Raises
    :class:`TriageConfigError` for a set-up that is there but unusable."""
    env = os.environ if env is None else env
    path = config_path(env)
    from_file = read_config_file(path)
    url = url or env.get(URL_ENV) or from_file.get("url")
    if not url:
        return None
    model = model or env.get(MODEL_ENV) or from_file.get("model")
    if not isinstance(url, str) or not isinstance(model, (str, type(None))):
        raise TriageConfigError(f"{path}: url and model are text")
    if not model or not model.strip():
        raise TriageConfigError(
            f"no triage model named: give --triage-model NAME (the name the server serves), {MODEL_ENV} or model in {path}"
        )
    timeout = _number(timeout, "timeout", None) if timeout is not None else _number(from_file.get("timeout", DEFAULT_TIMEOUT), "timeout", path)
    in_flight = int(
        _number(in_flight, "in_flight", None) if in_flight is not None else _number(from_file.get("in_flight", DEFAULT_IN_FLIGHT), "in_flight", path)
    )
    if not 1 <= in_flight <= MAX_IN_FLIGHT:
        raise TriageConfigError(f"in_flight must be between 1 and {MAX_IN_FLIGHT}, not {in_flight}")
    clean = check_url(url)
    if check_host and not allow_remote:
        check_loopback(clean)
    return TriageConfig(clean, model.strip(), env.get(KEY_ENV) or None, timeout, in_flight, allow_remote)


def _number(value: Any, name: str, path: Path | None) -> float:
    """``value`` checked; ``path``: the file it came from (None: a flag or a caller)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        where = f" (in {path})" if path is not None else ""
        raise TriageConfigError(f"triage {name} must be a positive number, not {value!r}{where}")
    return float(value)


def check_url(url: str) -> str:
    """``url`` as an API base: http(s), a host, no credentials, no query; trailing / dropped."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise TriageConfigError(f"the triage URL {text!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TriageConfigError(f"the triage URL must look like http://127.0.0.1:8080/v1, not {text!r}")
    if parts.username is not None or parts.password is not None:
        raise TriageConfigError(f"the triage URL holds credentials: put the key in {KEY_ENV} instead")
    if parts.query or parts.fragment:
        raise TriageConfigError(f"the triage URL is the API's base (http://127.0.0.1:8080/v1), without ?… or #…: {text!r}")
    del port
    path = parts.path.rstrip("/")
    if path.endswith("/chat/completions"):  # the whole endpoint pasted: keep its base
        path = path[: -len("/chat/completions")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def is_loopback_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def check_loopback(url: str) -> None:
    """Refuse an endpoint whose host is not this machine: every address the host name resolves
    to must be a loopback one (127.0.0.0/8, ::1)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    refused = (
        f"the triage endpoint {host} is not on this machine and the rows of the sheet would be sent there; "
        "pass --triage-allow-remote to allow it"
    )
    if is_loopback_address(host):
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:
        raise TriageConfigError(refused)
    try:
        found = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise TriageConfigError(f"the triage endpoint's host {host!r} cannot be resolved") from None
    addresses = {str(item[4][0]) for item in found}
    if not addresses or not all(is_loopback_address(a) for a in addresses):
        raise TriageConfigError(refused)
