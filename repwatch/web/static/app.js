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
          var fresh = box.querySelector("[data-now]");      // the server's time, in the team's timezone
          if (stamp && fresh) stamp.textContent = fresh.getAttribute("data-now");
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

  // Queue keyboard shortcuts (listed on the page): j/k move, x selects, o/Enter opens, a assigns the
  // current ticket to me (through the bulk form, so it is the same CSRF-checked action), / filters.
  function queueKeys(box) {
    var current = null;
    function rows() { return Array.prototype.slice.call(box.querySelectorAll("tr[data-ticket]")); }
    function mark(row) {
      if (current) current.classList.remove("cursor");
      current = row;
      if (row) { row.classList.add("cursor"); row.scrollIntoView({ block: "nearest" }); }
    }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      var t = event.target;
      if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName))) return;
      var all = rows();
      if (current && all.indexOf(current) < 0) {         // the table was refreshed: find the same ticket
        var id = current.getAttribute("data-ticket");
        current = null;
        all.forEach(function (r) { if (r.getAttribute("data-ticket") === id) mark(r); });
      }
      var at = current ? all.indexOf(current) : -1;
      var key = event.key;
      if (key === "j" || key === "k") {
        if (!all.length) return;
        var next = key === "j" ? Math.min(at + 1, all.length - 1) : Math.max(at - 1, 0);
        mark(all[next]);
      } else if ((key === "o" || key === "Enter") && current) {
        window.location.href = "/tickets/" + encodeURIComponent(current.getAttribute("data-ticket"));
      } else if (key === "x" && current) {
        var box_ = current.querySelector("input[name=ticket]");
        if (box_) box_.checked = !box_.checked;
      } else if (key === "a" && current) {
        var form = document.getElementById("bulk-form");
        if (!form) return;
        var me = form.querySelector("input[name=me]").value;
        all.forEach(function (r) {
          var c = r.querySelector("input[name=ticket]");
          if (c) c.checked = r === current;
        });
        var select = form.querySelector("select[name=assignee]");
        var found = Array.prototype.some.call(select.options, function (o) { return o.value === me; });
        if (!found) select.add(new Option(me, me));
        select.value = me;
        form.querySelector("button[value=assign]").click();
      } else if (key === "/") {
        var first = document.querySelector("form.filters select, form.filters input");
        if (first) first.focus();
      } else {
        return;
      }
      event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("queue-live");
    if (box) startRefresh(box);
    if (box) queueKeys(box);
    // Rows are clickable as a whole; the title link stays the real, keyboard-reachable target.
    document.addEventListener("click", function (event) {
      var row = event.target.closest && event.target.closest("tr[data-ticket]");
      if (!row || event.target.closest("a, button, input, select, label")) return;
      window.location.href = "/tickets/" + encodeURIComponent(row.getAttribute("data-ticket"));
    });
  });
})();
