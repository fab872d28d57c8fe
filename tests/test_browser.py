"""Lesson 00 in a real browser, the way a student meets it.

JupyterLab is started as `make lab` starts it (see tests/labserver.py); Debian's
Chromium, driven by Playwright, opens the lesson, runs every cell through the
menu (Run > Run All Cells), waits for the kernel to be idle and checks that
no cell shows a traceback and that the figures recorded with
``coursekit.results.record`` appear as ``name = value`` lines. Screenshots
go to build/screenshots/ (lab_00.png; lab_00_sparkmonitor.png shows the
live Spark progress panel that sparkmonitor draws under a cell, which also
proves that `make lab` loaded its kernel extension and get_spark wired its
listener).

Needs /usr/bin/chromium (Debian package ``chromium``; `.ci/run` installs it).
Playwright never downloads a browser here. The test is skipped only when
Chromium is missing and cannot be installed (not root, or no apt-get).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from labserver import ROOT, running_lab

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LESSON = Path("notebooks/00_introducao_ml_distribuido.ipynb")
SCREENSHOTS = ROOT / "build" / "screenshots"
RUN_TIMEOUT_S = 600
#: Scale the lesson runs at: "aula" (the default a student runs). COURSEKIT_BROWSER_SCALE=ci
#: edits the parameters cell in the page first, as a student would, for a quicker run.
SCALE = os.environ.get("COURSEKIT_BROWSER_SCALE", "aula")
KERNEL_TIMEOUT_S = 120
COMM_READY = "SparkMonitor: Connection with comms established"
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|Cell In\[\d+\], line \d+")
RECORD_CALL = re.compile(r"""\brecord\(\s*["']([A-Za-z_]\w*)["']""")


def _ensure_chromium() -> None:
    """Install Debian's chromium when missing and possible; otherwise skip, saying why."""
    if CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.skip(
            f"{CHROMIUM} não existe e não pode ser instalado aqui (precisa de root e apt-get). "
            "Instale com `sudo apt-get install chromium` (Debian/Ubuntu) para rodar o teste no navegador."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [
        [apt, "update", "-q"],
        [apt, "install", "-y", "-q", "chromium"],
    ]
    for step in steps:
        done = subprocess.run(
            step, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        if done.returncode != 0:
            pytest.skip(
                f"chromium não pôde ser instalado ({' '.join(step)}):\n{done.stderr[-1500:]}"
            )
    if not CHROMIUM.exists():
        pytest.skip(f"apt-get instalou chromium, mas {CHROMIUM} não existe")


def _recorded_names(notebook: Path) -> list[str]:
    """Names passed to record("...") in the notebook's code cells."""
    cells = json.loads(notebook.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return sorted(set(RECORD_CALL.findall(code)))


def _cell_state(page) -> dict:
    """Prompts, stderr texts and plain outputs of every code cell, read from the page."""
    return page.evaluate(
        """() => {
        const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
        return {
          prompts: cells.map(c => (c.querySelector('.jp-InputPrompt')?.textContent || '').trim()),
          stderr: [...document.querySelectorAll(
              '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
              .map(o => o.textContent),
          outputs: [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]
              .map(o => o.textContent),
          status: document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator')
              ?.getAttribute('data-status') || '',
        };
    }"""
    )


def _wait_until_done(page, n_cells: int) -> dict:
    """Wait until every code cell shows an execution count and the kernel is idle."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state: dict = {}
    while time.monotonic() < deadline:
        state = _cell_state(page)
        if any(TRACEBACK.search(text) for text in state["stderr"]):
            return state  # Run All stops at the first error: no point in waiting
        done = all(re.fullmatch(r"\[\d+\]:", p) for p in state["prompts"])
        if done and len(state["prompts"]) == n_cells and state["status"] == "idle":
            return state
        time.sleep(1)
    pytest.fail(f"a execução não terminou em {RUN_TIMEOUT_S} s; prompts: {state.get('prompts')}")


def _set_scale(page, scale: str) -> None:
    """Type SCALE = "<scale>" into the parameters cell (in the page only; autosave is off)."""
    cell = page.locator(".jp-CodeCell", has_text="SCALE =").first
    editor = cell.locator(".cm-content").first
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(f'SCALE = "{scale}"  # changed in the browser test')
    page.keyboard.press("Escape")
    assert f'SCALE = "{scale}"' in cell.inner_text()


def test_lesson_00_runs_in_jupyterlab(tmp_path):
    """Lesson 00: Run All Cells in Chromium, no error, recorded figures shown, screenshots saved."""
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    lesson = ROOT / os.environ.get("COURSEKIT_BROWSER_NOTEBOOK", str(LESSON))
    assert lesson.exists(), f"lesson notebook missing: {lesson}"
    rel = lesson.resolve().relative_to(ROOT).as_posix()
    names = _recorded_names(lesson)
    assert names, f"{rel} records no figure with coursekit.results.record"
    n_cells = sum(c["cell_type"] == "code" for c in json.loads(lesson.read_text())["cells"])
    digest = hashlib.sha256(lesson.read_bytes()).hexdigest()
    results = tmp_path / "results.json"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "lab_00.png"
    monitor_shot = SCREENSHOTS / "lab_00_sparkmonitor.png"
    for old in (shot, monitor_shot):
        old.unlink(missing_ok=True)

    started = time.perf_counter()
    env = {"COURSEKIT_UI": "0", "COURSEKIT_RESULTS": str(results), "COURSEKIT_SPARKMONITOR": "1"}
    with running_lab(tmp_path, env) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            env={
                **os.environ,
                "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                "XDG_CACHE_HOME": str(tmp_path / "xdg"),
            },
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.goto(f"{server.url}/lab/tree/{rel}?token={server.token}&reset")
            # The kernel is ready for a student once sparkmonitor's channel is open (if we
            # clicked earlier, the first cells would run before the progress display listens).
            deadline = time.monotonic() + KERNEL_TIMEOUT_S
            while not any(COMM_READY in line for line in console):
                assert time.monotonic() < deadline, (
                    f"the notebook's kernel did not connect in {KERNEL_TIMEOUT_S} s "
                    f"(no '{COMM_READY}' in the browser console):\n" + "\n".join(console[-20:])
                )
                page.wait_for_timeout(250)
            kernel_s = time.perf_counter() - started
            if SCALE != "aula":
                _set_scale(page, SCALE)
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
            state = _wait_until_done(page, n_cells)
            ran_s = time.perf_counter() - started

            tracebacks = [t for t in state["stderr"] if TRACEBACK.search(t)]
            assert not tracebacks, "a cell failed in JupyterLab:\n" + tracebacks[0][-3000:]
            text = "\n".join(state["outputs"])
            missing = [n for n in names if not re.search(rf"^{n} = \S", text, flags=re.MULTILINE)]
            assert not missing, f"recorded figures not shown in the page: {missing}"

            # The README's picture: the first plot if the lesson draws one, else a recorded figure.
            plot = page.locator(".jp-OutputArea-output img")
            target = (
                plot.first
                if plot.count()
                else page.locator(".jp-OutputArea-output", has_text=f"{names[0]} = ").first
            )
            for _ in range(3):  # cells above settle their height (content-visibility) as we scroll
                target.evaluate("node => node.scrollIntoView({block: 'center'})")
                page.wait_for_timeout(500)
            page.screenshot(path=str(shot))
            # sparkmonitor: `make lab` loads it and get_spark wires its listener -> a job table.
            panel = page.locator(".sparkMonitorCellRoot .jobtable").first
            assert panel.count(), "no sparkmonitor job table under any cell (listener not wired?)"
            cell = page.locator(".jp-CodeCell", has=panel).first
            cell.scroll_into_view_if_needed()
            cell.screenshot(path=str(monitor_shot))
        finally:
            browser.close()
    total_s = time.perf_counter() - started
    print(
        f"\nbrowser test (SCALE={SCALE}): kernel ready {kernel_s:.1f} s, run all done {ran_s:.1f} s, "
        f"total {total_s:.1f} s; screenshots in {SCREENSHOTS}"
    )

    assert shot.stat().st_size > 10_000
    assert set(names) <= set(json.loads(results.read_text())), "record() did not write every figure"
    assert hashlib.sha256(lesson.read_bytes()).hexdigest() == digest, "the lesson file was modified"
