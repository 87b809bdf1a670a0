"""/docs in a real headless browser: Debian's chromium driven by Selenium through Debian's chromedriver
(scripts/browser.sh installs both; nothing is downloaded at test time). Before Authorize the page shows nothing of
the model; Authorize with the bearer key (the page then loads the full document with it), then "Try it out" ->
"Execute" on POST /score must show /score's answer for the model's input_sample.

Set UPDATE_DOCS_SCREENSHOT=1 (``make docs-screenshot``) to refresh docs/try-it.png, the README's screenshot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import requests
from service_helpers import REPO, ServiceProcess

pytestmark = pytest.mark.slow
KEY = "docs-k3y"
SCREENSHOT = REPO / "docs" / "try-it.png"


@pytest.fixture(scope="module")
def chromedriver() -> str:
    result = subprocess.run(["bash", str(REPO / "scripts" / "browser.sh")], capture_output=True, text=True)
    if result.returncode == 3:
        pytest.skip(f"no headless Chromium here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def browser(chromedriver):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1800",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()


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
