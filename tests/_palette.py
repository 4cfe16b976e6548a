"""Run a JupyterLab command from its command palette, as a person does, without a race.

JupyterLab's modal command palette hides as soon as any command runs while it is open
(``ModalCommandPalette`` listens to ``commands.commandExecuted``), and JupyterLab runs
commands on its own: the help menu runs ``helpmenu:get-kernel`` whenever the current
widget, its kernel or the list of running sessions changes (a kernel starting, going
busy or idle, a session poll). A palette opened then closes under the test, which then
types into a hidden input ("lm-CommandPalette-input is not visible"; seen with a notebook
whose kernel was still starting). Callers first let the kernel settle
(:func:`tests._browser.wait_for_kernel`); :func:`run_from_palette` then checks, at the
very key press, that Enter reached the open palette with the wanted command active, and
opens the palette again when it did not.
"""

from __future__ import annotations

import time
from typing import Any

# Armed just before Enter: records, in the capture phase (before the palette's own
# handler runs the active command), whether this Enter goes to the open palette's input
# while the command labelled `label` is the active item.
_ARM_JS = """
label => {
  window.__nbtlPaletteEnter = null;
  document.addEventListener('keydown', event => {
    if (event.key !== 'Enter') { return; }
    const input = document.querySelector('.lm-CommandPalette-input');
    const active = document.querySelector('.lm-CommandPalette-item.lm-mod-active');
    window.__nbtlPaletteEnter = Boolean(
      input && event.target === input && input.offsetParent !== null &&
      active && active.textContent.includes(label)
    );
  }, {capture: true, once: true});
}
"""


def run_from_palette(page: Any, label: str, *, timeout: float = 60) -> None:
    """View > Command Palette, type ``label``, Enter: run the command labelled ``label``.

    Raises:
        AssertionError: the command did not run within ``timeout`` seconds.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    box = page.locator(".lm-CommandPalette-input")
    active = page.locator(".lm-CommandPalette-item.lm-mod-active")
    deadline = time.monotonic() + timeout
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            page.locator(".lm-MenuBar-itemLabel", has_text="View").click(timeout=10_000)
            page.locator(".lm-Menu-itemLabel", has_text="Command Palette").first.click(
                timeout=10_000
            )
            expect(box).to_be_focused(timeout=10_000)
            box.fill(label, timeout=5_000)
            expect(active).to_contain_text(label, timeout=5_000)
        except (PlaywrightTimeout, AssertionError):
            page.keyboard.press("Escape")  # a menu left open; nothing if none
            continue
        page.evaluate(_ARM_JS, label)
        page.keyboard.press("Enter")  # not box.press(): that would focus the input again
        if page.evaluate("window.__nbtlPaletteEnter"):
            return
        page.keyboard.press("Escape")
    raise AssertionError(f"the palette did not run {label!r} in {attempts} attempts")
