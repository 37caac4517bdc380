// Copy buttons of the diagnostics page: <button class="copy" data-copy="value">.
// Copies with the Clipboard API; where that is refused (no permission, plain
// http on another host), selects the value so Ctrl+C / Cmd+C copies it.
(function () {
  "use strict";

  function selectValue(button) {
    var cell = button.closest("td") || button.parentElement;
    var code = cell && cell.querySelector("code.value");
    if (!code) { return false; }
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return true;
  }

  function say(button, text) {
    button.textContent = text;
    window.clearTimeout(button.copyTimer);
    button.copyTimer = window.setTimeout(function () { button.textContent = "Copy"; }, 4000);
  }

  function fallback(button) {
    var copied = false;
    if (selectValue(button)) {
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    }
    say(button, copied ? "Copied" : "Selected: press Ctrl+C");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.copy[data-copy]");
    if (!button) { return; }
    var value = button.getAttribute("data-copy");
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(value).then(
        function () { say(button, "Copied"); },
        function () { fallback(button); });
    } else {
      fallback(button);
    }
  });
})();
