// Local times and "in 54 min" words for the time_at macro (templates/macros.html);
// no inline script anywhere (CSP).
"use strict";
(function () {
  // The words of webapp/timewords.py (relative_time, duration coarse), kept in step
  // with the clock: a page left open still says how far a moment is from now.
  function duration(seconds) {
    if (seconds < 60) return seconds + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60), rest = minutes % 60;
    if (hours < 48) return rest ? hours + " h " + rest + " min" : hours + " h";
    return Math.floor(hours / 24) + " days";
  }
  function relative(epoch, now) {
    const seconds = Math.round(epoch - now);
    if (Math.abs(seconds) < 5) return "now";
    const words = duration(Math.abs(seconds));
    return seconds > 0 ? "in " + words : words + " ago";
  }
  function words() {
    const now = Date.now() / 1000;
    document.querySelectorAll("[data-relative]").forEach(function (el) {
      el.textContent = "(" + relative(Number(el.dataset.relative), now) + ")";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("time[data-epoch]").forEach(function (el) {
      el.textContent = new Date(Number(el.dataset.epoch) * 1000).toLocaleString();
    });
    words();
    setInterval(words, 15000);
  });
})();
