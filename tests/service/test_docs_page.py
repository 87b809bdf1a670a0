"""/docs in a real headless browser: Debian's chromium driven by Selenium through Debian's chromedriver
(`make test` installs both with scripts/system-tools.sh; nothing is downloaded at test time). Before Authorize the
page shows nothing of the model; Authorize with the bearer key (the page then loads the full document with it), then
"Try it out" -> "Execute" on POST /score must show /score's answer for the model's input_sample.

Set UPDATE_DOCS_SCREENSHOT=1 (``make docs-screenshot``) to refresh docs/try-it.png, the README's screenshot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from service_helpers import REPO, ServiceProcess

pytestmark = pytest.mark.slow
KEY = "docs-k3y"
SCREENSHOT = REPO / "docs" / "try-it.png"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1280,1800",
)
OFFLINE_FLAGS = (
    # No traffic beyond 127.0.0.1: Chromium's own background requests (updates, sync, field trials, safe browsing,
    # metrics, translate...) are switched off, and any host name but 127.0.0.1 fails to resolve.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@pytest.fixture(scope="module")
def chromedriver() -> str:
    """Debian's chromedriver: `make test` installs it and chromium when it can (scripts/system-tools.sh); a test
    never installs anything."""
    missing = [command for command in ("chromium", "chromedriver") if shutil.which(command) is None]
    if missing:
        reason = f"{', '.join(missing)} missing; `make system-tools` installs them as root"
        pytest.skip(f"no headless Chromium here ({reason})")
    return shutil.which("chromedriver")


def off_loopback_traffic(net_log: Path) -> list[str]:
    """What Chromium's net log (``--log-net-log``) shows leaving 127.0.0.1: DNS queries, UDP datagrams sent, TCP
    connections to another address. (Requests Chromium starts but cannot resolve send nothing.)"""
    text = net_log.read_text()
    try:
        log = json.loads(text)
    except ValueError:  # a log cut short: its events so far
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    traffic = []
    for event in log["events"]:
        name, params = names[event["type"]], event.get("params") or {}
        addresses = params.get("address_list") or [params.get("address", "")]
        if name.startswith("DNS_TRANSACTION") or name == "UDP_BYTES_SENT":
            traffic.append(f"{name} {params}")
        elif name == "TCP_CONNECT" and not all(a.startswith("127.0.0.1:") for a in addresses if a):
            traffic.append(f"{name} {addresses}")
    return traffic


@pytest.fixture
def browser(chromedriver, monkeypatch, tmp_path):
    monkeypatch.setenv("SE_AVOID_STATS", "true")  # should Selenium Manager ever run, it sends no usage statistics
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium")
    net_log = tmp_path / "net-log.json"
    for argument in (*CHROMIUM_FLAGS, *OFFLINE_FLAGS, f"--log-net-log={net_log}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()
    assert off_loopback_traffic(net_log) == []


def test_try_it_out_scores_the_input_sample(iris_model_dir, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    sample = json.loads((iris_model_dir / "model.json").read_text())["input_sample"]
    with ServiceProcess.ours("--model_dir", str(iris_model_dir), env={"SCORING_API_KEY": KEY}) as server:
        server.wait_ready()
        auth = {"Authorization": f"Bearer {KEY}"}
        expected = requests.post(f"{server.url}/score", json={"data": sample}, headers=auth, timeout=30).json()
        assert expected[0] == 0

        browser.get(f"{server.url}/docs")
        wait = WebDriverWait(browser, 60)

        def click(css: str) -> None:
            element = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, css)))
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
            element.click()

        # Before Authorize the page has only the outline: nothing of the model without the key.
        wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path[data-path='/']")))
        assert "sklearn-iris" not in browser.page_source
        click("button.authorize")
        wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container input"))).send_keys(KEY)
        click(".auth-btn-wrapper button.authorize")
        click(".auth-btn-wrapper button.btn-done")

        score = '.opblock-post .opblock-summary-path[data-path="/score"]'
        click(score)
        click(".opblock.is-open .try-out__btn")
        example = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".opblock.is-open textarea")))
        assert json.loads(example.get_attribute("value"))["data"] == sample
        click(".opblock.is-open button.execute")

        status = ".opblock.is-open .live-responses-table tr.response .response-col_status"
        wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, status), "200"))
        body = browser.find_element(
            By.CSS_SELECTOR, ".opblock.is-open .live-responses-table .response-col_description pre"
        )
        assert json.loads(body.text) == expected
        curl = browser.find_element(By.CSS_SELECTOR, ".opblock.is-open .curl-command").text
        assert f"Authorization: Bearer {KEY}" in curl

        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", body)
        browser.save_screenshot(str(tmp_path / "try-it.png"))
        if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
            shutil.copyfile(tmp_path / "try-it.png", SCREENSHOT)


def test_make_test_installs_the_system_tools_before_pytest():
    """The browser, strace and wrk come from the Makefile (scripts/system-tools.sh), not from apt-get in a test."""
    lines = subprocess.run(
        ["make", "-n", "-C", str(REPO), "test"], capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    tools = next(i for i, line in enumerate(lines) if "scripts/system-tools.sh" in line)
    assert tools < next(i for i, line in enumerate(lines) if "-m pytest" in line)
    script = (REPO / "scripts" / "system-tools.sh").read_text()
    assert "chromium chromium-driver strace wrk" in script


def test_without_apt_get_the_system_tools_step_says_so_and_goes_on(tmp_path):
    """Not root or no apt-get: one line naming what is missing, and `make` goes on (the tests then skip visibly)."""
    for command in ("bash", "id"):
        (tmp_path / command).symlink_to(shutil.which(command))
    env = {"PATH": str(tmp_path)}  # none of the tools, and no apt-get
    script = subprocess.run(
        ["bash", str(REPO / "scripts" / "system-tools.sh")], capture_output=True, text=True, timeout=60, env=env
    )
    assert script.returncode == 3
    assert script.stderr.splitlines() == [
        "system tools missing: chromium chromium-driver strace wrk; apt-get cannot install them here (needs root on "
        "Debian), so the tests using them skip"
    ]
    make = subprocess.run(
        [shutil.which("make"), "-C", str(REPO), "system-tools"], capture_output=True, text=True, timeout=60, env=env
    )
    assert make.returncode == 0 and script.stderr.strip() in make.stderr
