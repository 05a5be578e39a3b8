// The ticket page's reply box: the template picker fills the box at once (the page also works without
// this file: the picker is a GET form), and the copy button puts the edited reply on the clipboard.
(function () {
  "use strict";
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var box = document.createElement("textarea");            // http on a LAN: the older way
    box.value = text;
    box.setAttribute("readonly", "");
    box.style.position = "fixed";
    box.style.opacity = "0";
    document.body.appendChild(box);
    box.select();
    var ok = document.execCommand("copy");
    document.body.removeChild(box);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("reply-copy");
    var text = document.getElementById("reply-text");
    var status = document.getElementById("reply-copied");
    if (button && text) {
      button.addEventListener("click", function () {
        copy(text.value).then(function () { status.textContent = "已复制 Copied."; },
                              function () { text.select(); status.textContent = "请按 Ctrl+C 复制 Press Ctrl+C to copy."; });
      });
    }
    var picker = document.getElementById("reply-template");
    var form = document.getElementById("reply-form");
    if (picker && text && form) picker.addEventListener("change", function () {
      var ticket = form.getAttribute("data-ticket");
      fetch("/api/tickets/" + encodeURIComponent(ticket) + "/reply-draft?template=" + encodeURIComponent(picker.value),
            { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (resp) { if (!resp.ok) throw new Error(String(resp.status)); return resp.json(); })
        .then(function (draft) {
          text.value = draft.text;
          form.elements.template.value = draft.template;
          status.textContent = "";
        })
        .catch(function () { picker.form.submit(); });      // fall back to the plain page
    });
  });
})();
