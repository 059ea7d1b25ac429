"""The manual's examples, run for real and held to what the commands print (issue 33).

A page's ````console`` blocks are a terminal session: each ``$ COMMAND`` line is run, in order,
in one sandbox, and the lines under it (up to the next ``$`` line or the block's end) are what
it must print, stdout and stderr together. The tour (``TOURS``) runs its pages one after the
other in the same sandbox, a copy of this repository committed afresh: one story with the same
md5s throughout, as a reader who follows the pages in order would see it.

What is masked, on both sides, before comparing:
- the sandbox's path and the virtual environment's are shown as ``/home/you/mlgate`` and
  ``/home/you/mlgate/.venv`` (its ``python3`` as ``python``, whichever name the venv gave it), and the ports servers really listen on as ``8080`` and ``8081``
  (the manual's ports stand for free ones, in commands and in what they print);
- a hexadecimal hash (an md5, a commit) is compared by where it appears first, not by its
  digits: the same hash must stand in the same places (a model's md5 in the release and in the
  deploy), but a scikit-learn release that pickles differently does not fail the manual;
- times and dates, and durations in seconds or milliseconds (a latency bucket, ``5-10 ms``);
  since a masked cell can widen a table, runs of spaces and of dashes are compared as one;
- a shown line ``...`` stands for any number of lines.

A command ending in `` &`` starts in the background, prints nothing in the manual, and is
stopped (its process group) when the tour ends; a ``mlgate serve`` is waited for until its port
answers. ``cd DIR`` changes the directory for the commands after it.

``python tests/manual.py --write`` runs the tour and writes what each command printed under it
wherever the page's example no longer matches (then review the diff).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers import REPO_ROOT

SHOWN_HOME = "/home/you/mlgate"
SHOWN_VENV = "/home/you/mlgate/.venv"
SHOWN_PORTS = (8080, 8081)  # a `mlgate serve` without --port listens on the first
# The pages of one scripted run, in the order a reader follows them.
TOURS: dict[str, tuple[str, ...]] = {
    "repository": ("docs/tutorial.md", "docs/releases.md", "docs/deployments.md", "docs/gitlab.md")
}
COMMAND_TIMEOUT = 600  # seconds: the longest documented command is a full `dvc repro`


@dataclass(frozen=True)
class Example:
    """One ``$ COMMAND`` of a page and what the page shows under it."""

    page: str
    command: str
    shown: tuple[str, ...]
    first: int  # the index of the first shown line in the page's lines
    end: int  # one past the last


@dataclass(frozen=True)
class Mismatch:
    example: Example
    printed: str

    def __str__(self) -> str:
        shown = "".join(f"{line}\n" for line in self.example.shown)
        return (
            f"{self.example.page}:{self.example.first}: $ {self.example.command}\n"
            f"--- the page shows\n{shown}--- the command printed\n{self.printed}"
        )


def blocks(page: str, *, console_only: bool) -> Iterator[Example]:
    """Every ``$ COMMAND`` in ``page``'s code blocks (only ````console`` ones if asked)."""
    lines = (REPO_ROOT / page).read_text().splitlines()
    fence: str | None = None  # the open block's info string
    command: str | None = None
    heredoc: str | None = None  # the word that ends the open here-document
    first = 0

    def example(end: int) -> Example:
        assert command is not None
        return Example(page, command, tuple(lines[first:end]), first, end)

    for index, line in enumerate(lines):
        if line.startswith("```"):
            if fence is None:
                fence = line[3:].strip()
                continue
            if command is not None:
                yield example(index)
            fence, command = None, None
            continue
        if fence is None or (console_only and fence != "console"):
            continue
        if heredoc is not None:  # a command's here-document is part of the command
            command = f"{command}\n{line}"
            first = index + 1
            heredoc = None if line == heredoc else heredoc
            continue
        if line.startswith("$ "):
            if command is not None:
                yield example(index)
            command, first = line[2:], index + 1
            opened = re.search(r"<<-?\s*'?(\w+)'?", command)
            heredoc = opened.group(1) if opened else None


def examples(page: str, command: str) -> list[str]:
    """What ``page`` (a path from the repository's root) shows under ``$ COMMAND``, each time
    it shows it, as text ending in a newline."""
    return [
        "".join(f"{line}\n" for line in found.shown)
        for found in blocks(page, console_only=False)
        if found.command == command
    ]


_HASH = re.compile(r"\b(?=[0-9a-f]*[a-f])([0-9a-f]{8})([0-9a-f]*)\b")
_MASKS = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d| UTC)?"), "<time>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "<date>"),
    (re.compile(r"(?:<= ?|\b\d+(?:\.\d+)?-)?\b\d+(?:\.\d+)? ?(?:ms|s)\b"), "<duration>"),
    # a table's column widths follow its cells, so a masked cell may widen or narrow it
    (re.compile(r" {2,}"), "  "),
    (re.compile(r"-{3,}"), "---"),
)  # fmt: skip


def masked(text: str) -> str:
    """``text`` with times, dates and durations masked (hashes are bound by ``Hashes``)."""
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text


class Hashes:
    """Which real hash each hash the manual shows stands for, bound where it first appears
    (by its first 8 digits, so ``2ac4881e`` and the full commit are one), one to one: the same
    shown hash must be the same real one everywhere in the tour, and two shown hashes two real
    ones (a page cannot show one commit under two names)."""

    def __init__(self) -> None:
        self.bound: dict[str, str] = {}  # a shown prefix -> the real one
        self.tokens: dict[str, str] = {}  # a shown hash, as written -> the real one

    def matches(self, shown: tuple[str, ...], printed: str) -> bool:
        """Whether ``printed`` is what ``shown`` shows, a ``...`` line matching any lines;
        binds the hashes it met for the first time when it is."""
        groups: dict[str, str] = {}  # a shown prefix -> its group's name in this pattern
        occurrences: list[str] = []  # the shown hash of each numbered occurrence

        def hashed(match: re.Match[str]) -> str:
            prefix, rest = match.group(1), match.group(2)
            tail = f"[0-9a-f]{{{len(rest)}}}" if rest else ""
            if prefix in self.bound:
                head = re.escape(self.bound[prefix])
            elif prefix in groups:
                head = f"(?P={groups[prefix]})"
            else:
                groups[prefix] = f"h{len(groups)}"
                head = f"(?P<{groups[prefix]}>[0-9a-f]{{8}})"
            occurrences.append(match.group())
            return f"(?P<o{len(occurrences) - 1}>{head}{tail})"

        pattern = ""
        for line in shown:
            if line == "...":
                pattern += r"(?:.*\n)*?"
                continue
            pattern += _HASH.sub(hashed, re.escape(masked(line) + "\n"))
        found = re.fullmatch(pattern, masked(printed))
        if found is None:
            return False
        new = {prefix: found.group(name) for prefix, name in groups.items()}
        if len(set(new.values())) < len(new) or set(new.values()) & set(self.bound.values()):
            return False  # two shown hashes for one real one
        self.bound.update(new)
        self.tokens.update(
            {token: found.group(f"o{index}") for index, token in enumerate(occurrences)}
        )
        return True

    def rewritten(self, shown: tuple[str, ...]) -> list[str]:
        """``shown`` with each hash replaced by the real one it matched."""
        return [_HASH.sub(lambda m: self.tokens.get(m.group(), m.group()), line) for line in shown]


class Session:
    """A terminal in a sandbox: commands run by bash one at a time, with a fixed environment
    (no setting of the developer's leaks in: not their git identity, not CI's variables)."""

    def __init__(self, home: Path, project: Path) -> None:
        self.project = project
        self.cwd = project
        self.ports = {shown: free_port() for shown in SHOWN_PORTS}  # shown -> real
        self.background: list[subprocess.Popen[bytes]] = []
        self.status = 0  # the last command's exit status, for a shown `echo $?`
        venv_bin = Path(sys.executable).parent
        self.environment = {
            "PATH": f"{venv_bin}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "TMPDIR": str(home / "tmp"),
            "PYTHONUNBUFFERED": "1",  # stdout and stderr in the order they are written
            "COLUMNS": "100",
            "DVC_NO_ANALYTICS": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        (home / ".gitconfig").write_text(
            "[user]\n\tname = You\n\temail = you@example.com\n"
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        )
        self.substitutions = sorted(
            (
                (str(project), SHOWN_HOME),
                (sys.prefix, SHOWN_VENV),
                # the hooks name the Python that runs mlgate: python or python3, by the venv
                (f"{venv_bin}/python3", f"{SHOWN_VENV}/bin/python"),
                (str(venv_bin), f"{SHOWN_VENV}/bin"),
            ),
            key=lambda pair: -len(pair[0]),
        )  # fmt: skip

    def as_shown(self, text: str) -> str:
        for real, shown in self.substitutions:
            text = text.replace(real, shown)
        for port, free in self.ports.items():
            text = re.sub(rf"\b{free}\b", str(port), text)
        return text

    def real(self, command: str) -> str:
        """The command as run: the manual's ports are this session's free ones."""
        for port, free in self.ports.items():
            command = re.sub(rf"(:|--port ){port}\b", rf"\g<1>{free}", command)
        if re.match(r"mlgate serve\b", command) and "--port" not in command:
            first = self.ports[SHOWN_PORTS[0]]
            command = command.replace("mlgate serve", f"mlgate serve --port {first}", 1)
        return command

    def run(self, command: str) -> str:
        """What ``command`` prints, as the manual shows it."""
        if command.startswith("cd "):
            self.cwd = (self.cwd / command[3:].strip()).resolve()
            return ""
        real = self.real(command)
        if real.endswith("&"):
            self.start(real[:-1].strip())
            return ""
        done = subprocess.run(
            ["bash", "-c", f"(exit {self.status})\n{real}"],
            cwd=self.cwd,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=COMMAND_TIMEOUT,
        )
        self.status = done.returncode
        printed = self.as_shown(done.stdout.decode())
        # the page puts a line break where a terminal would put its next prompt
        return printed if printed.endswith("\n") or not printed else f"{printed}\n"

    def start(self, command: str) -> None:
        log = Path(self.environment["TMPDIR"]) / f"background-{len(self.background)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.cwd,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append(process)
        if command.startswith("mlgate serve"):
            deadline = time.monotonic() + 60
            port = int(re.findall(r"--port (\d+)", command)[-1])
            while not answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{command} did not start:\n{log.read_text()}")
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def repository_copy(into: Path) -> Path:
    """This repository as a reader's fresh clone has it: every tracked file (as it is on disk,
    so a change not yet committed is toured too), committed once on ``main``."""
    project = into / "mlgate"
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)
    return project


@contextmanager
def session(tour: str, sandbox: Path) -> Iterator[Session]:
    if tour != "repository":
        raise ValueError(f"no tour named {tour}")
    project = repository_copy(sandbox)
    terminal = Session(sandbox / "home", project)
    for command in ("git init -q", "git add -A", "git commit -qm 'mlgate'"):
        terminal.run(command)
    try:
        yield terminal
    finally:
        terminal.stop()


@dataclass(frozen=True)
class Ran:
    example: Example
    printed: str  # what its command printed, paths and port as the manual shows them
    matched: bool
    seconds: float


def run_tour(tour: str, sandbox: Path) -> tuple[list[Ran], Hashes]:
    """Every console example of the tour's pages, run in order, each with whether it printed
    what its page shows (hashes bound across the whole tour)."""
    ran: list[Ran] = []
    hashes = Hashes()
    with session(tour, sandbox) as terminal:
        for page in TOURS[tour]:
            for example in blocks(page, console_only=True):
                started = time.monotonic()
                printed = terminal.run(example.command)
                seconds = time.monotonic() - started
                ran.append(Ran(example, printed, hashes.matches(example.shown, printed), seconds))
    return ran, hashes


def mismatches(ran: list[Ran]) -> list[Mismatch]:
    return [Mismatch(each.example, each.printed) for each in ran if not each.matched]


def write(ran: list[Ran], hashes: Hashes) -> None:
    """Every example of the tour as this one run printed it, so the pages show one run's
    hashes throughout: a matching example with ``...`` keeps its lines, its hashes replaced by
    this run's; any other example gets what its command printed."""
    by_page: dict[str, list[Ran]] = {}
    for each in ran:
        by_page.setdefault(each.example.page, []).append(each)
    for page, found in by_page.items():
        path = REPO_ROOT / page
        lines = path.read_text().splitlines()
        for each in sorted(found, key=lambda e: -e.example.first):
            example = each.example
            new = (
                hashes.rewritten(example.shown)
                if each.matched and "..." in example.shown
                else each.printed.splitlines()
            )
            lines[example.first : example.end] = new
        path.write_text("".join(f"{line}\n" for line in lines))


def stale_pipeline() -> str | None:
    """Why this checkout's own pipeline would not reproduce as committed (its dvc.lock records
    other code than its stages read), or None: a tour of such a checkout retrains in its first
    `dvc repro` and shows that, which is not what a fresh clone prints."""
    from mlgate.hooks import staleness

    stale = staleness.check_workspace(REPO_ROOT).stale
    if not stale:
        return None
    return "; ".join(f"{stage.name}: {', '.join(stage.reasons)}" for stage in stale)


def main() -> int:
    import tempfile

    rewrite = "--write" in sys.argv[1:]
    why = stale_pipeline()
    if why is not None:
        print(f"dvc.lock is out of date ({why}): run `dvc repro` first", file=sys.stderr)
        return 2
    failed = 0
    for tour in TOURS:
        with tempfile.TemporaryDirectory() as sandbox:
            ran, hashes = run_tour(tour, Path(sandbox))
        different = mismatches(ran)
        total = sum(each.seconds for each in ran)
        print(f"{tour}: {len(ran)} examples in {total:.0f} s, {len(different)} differ; slowest:")
        for each in sorted(ran, key=lambda e: -e.seconds)[:8]:
            print(f"  {each.seconds:5.1f} s  {each.example.page}: {each.example.command[:70]}")
        for mismatch in different:
            print(mismatch)
        failed += len(different)
        if rewrite:
            write(ran, hashes)
    return 1 if failed and not rewrite else 0


if __name__ == "__main__":
    sys.exit(main())
