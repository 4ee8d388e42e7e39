// Hide an unmasked value when its time is up (the server-side token expires at the same moment).
(function () {
  var el = document.getElementById("unmask-value");
  if (!el) return;
  var left = parseInt(el.dataset.seconds || "60", 10);
  var countdown = document.getElementById("unmask-countdown");
  function hide() {
    el.textContent = el.dataset.expired;
    el.classList.add("expired");
    if (countdown) countdown.textContent = "";
  }
  var timer = setInterval(function () {
    left -= 1;
    if (countdown) countdown.textContent = left > 0 ? "(" + left + " s)" : "";
    if (left <= 0) {
      clearInterval(timer);
      hide();
    }
  }, 1000);
  window.addEventListener("pagehide", hide);
})();
