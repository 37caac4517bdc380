// Expiry countdowns and local times; no inline script anywhere (CSP).
"use strict";
(function () {
  function format(seconds) {
    if (seconds <= 0) return "expired";
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }
  function tick() {
    const now = Math.floor(Date.now() / 1000);
    document.querySelectorAll("time.countdown[data-expires]").forEach(function (el) {
      el.textContent = format(Number(el.dataset.expires) - now);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("time[data-epoch]").forEach(function (el) {
      el.textContent = new Date(Number(el.dataset.epoch) * 1000).toLocaleString();
    });
    tick();
    setInterval(tick, 1000);
  });
})();
