"""Real headless Chromium (Debian's chromium and chromium-driver, or any on PATH) via Selenium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

# Found on PATH, so Homebrew's casks and Ubuntu's chromium-browser work too.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL = (
    "headless Chromium is missing: apt-get install -y chromium chromium-driver fonts-wqy-microhei"
)


def require_chromium(browser: str = CHROMIUM, driver: str = CHROMEDRIVER) -> None:
    """Fail (never skip) with one line saying how to install what the browser tests need."""
    if not (os.access(browser, os.X_OK) and os.access(driver, os.X_OK)):
        pytest.fail(INSTALL, pytrace=False)


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    """A headless Chromium; the driver's path is given, so Selenium Manager downloads nothing."""
    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--lang=zh-CN",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The preview page as an editor uses it."""

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver, self.url = driver, url

    def open(self) -> None:
        self.driver.get(self.url)
        self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, "#report tbody tr"))

    def wait(self, condition, timeout: float = 15.0):
        return WebDriverWait(self.driver, timeout).until(lambda _: condition())

    def turns(self) -> int:
        return len(self.driver.find_elements(By.CSS_SELECTOR, "#chat .hit"))

    def type(self, text: str) -> WebElement:
        """Type text as a user and send it; the line naming the rule under its replies."""
        before = self.turns()
        box = self.driver.find_element(By.ID, "text")
        box.send_keys(text)
        self.driver.find_element(By.ID, "send").click()
        return self.last_hit(before)

    def enter(self) -> WebElement:
        before = self.turns()
        self.driver.find_element(By.ID, "enter").click()
        return self.last_hit(before)

    def last_hit(self, before: int) -> WebElement:
        self.wait(lambda: self.turns() > before)
        return self.driver.find_elements(By.CSS_SELECTOR, "#chat .hit")[-1]

    def replies_before(self, hit: WebElement) -> list[WebElement]:
        """The reply rows of the turn hit closes, in order."""
        script = """
            const rows = [];
            let node = arguments[0].previousElementSibling;
            for (; node; node = node.previousElementSibling) {
              if (node.matches('.user, .hit, [data-kind=entered]')) break;
              if (node.dataset.kind) rows.unshift(node);
            }
            return rows;
        """
        return list(self.driver.execute_script(script, hit))

    def image_size(self, img: WebElement) -> tuple[int, int]:
        """The natural size of an image, once it has loaded (0 x 0 if it never does)."""
        self.wait(lambda: self.driver.execute_script("return arguments[0].complete", img))
        width, height = self.driver.execute_script(
            "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img
        )
        return int(width), int(height)
