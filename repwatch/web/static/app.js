// repwatch dashboard: small progressive enhancement. Every page works without this file.
// Served from the package under a CSP that allows only same-origin scripts: no inline code.
(function () {
  "use strict";

  // Queue auto-refresh: fetch the server-rendered fragment and swap it in. The fragment is built by
  // Jinja2 with autoescape, so it is inserted as HTML exactly as a full page load would be.
  function startRefresh(box) {
    var seconds = parseInt(box.getAttribute("data-refresh"), 10);
    if (!seconds || seconds < 5) return;
    var stamp = document.getElementById("refreshed");
    function tick() {
      if (document.hidden) return Promise.resolve();     // no polling from background tabs
      if (box.contains(document.activeElement) && document.activeElement !== document.body) return Promise.resolve();
      var url = new URL(window.location.href);
      url.searchParams.set("fragment", "1");
      return fetch(url.toString(), { credentials: "same-origin", redirect: "manual" })
        .then(function (resp) {
          if (resp.type === "opaqueredirect" || resp.status === 401 || resp.status === 303) {
            window.location.reload();                    // session ended: let the server send us to login
            return null;
          }
          return resp.ok ? resp.text() : null;
        })
        .then(function (html) {
          if (html === null || html === undefined) return;
          box.innerHTML = html;
          if (stamp) stamp.textContent = new Date().toLocaleTimeString();
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }
    window.repwatch = { refreshQueue: tick };           // lets a test (or a console) refresh on demand
    window.setInterval(tick, seconds * 1000);
  }

  // Buttons with data-confirm ask before submitting (silence, revoke).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("queue-live");
    if (box) startRefresh(box);
    // Rows are clickable as a whole; the title link stays the real, keyboard-reachable target.
    document.addEventListener("click", function (event) {
      var row = event.target.closest && event.target.closest("tr[data-ticket]");
      if (!row || event.target.closest("a, button, input, select, label")) return;
      window.location.href = "/tickets/" + encodeURIComponent(row.getAttribute("data-ticket"));
    });
  });
})();
