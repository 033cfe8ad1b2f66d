// Gatehouse Settings: dialogs, confirmations and the clipboard. The page
// works without it except for copying keys.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var status = document.getElementById("copy-status");

  function say(text) {
    if (!status) return;
    status.textContent = text;
    clearTimeout(say.t);
    say.t = setTimeout(function () { status.textContent = ""; }, 4000);
  }

  function open(id) {
    var d = document.getElementById(id);
    if (d && !d.open) d.showModal();
    return d;
  }

  document.querySelectorAll("[data-open]").forEach(function (b) {
    b.addEventListener("click", function () {
      var d = open(b.getAttribute("data-open"));
      var first = d && d.querySelector("input:not([type=hidden])");
      if (first) first.focus();
    });
  });
  document.querySelectorAll("dialog [data-close]").forEach(function (b) {
    b.addEventListener("click", function () { b.closest("dialog").close(); });
  });
  document.querySelectorAll("dialog[data-autoopen]").forEach(function (d) { d.showModal(); });

  // Copy the key just created.
  document.querySelectorAll("[data-copy-text]").forEach(function (b) {
    b.addEventListener("click", function () {
      var text = document.getElementById(b.getAttribute("data-copy-text")).textContent;
      navigator.clipboard.writeText(text).then(function () { say("Copied"); }, function () { say("Copying failed: select the key and copy it by hand."); });
    });
  });

  // "Copy key": reveal through the server (audited), then copy.
  document.querySelectorAll("[data-copy-key]").forEach(function (b) {
    b.addEventListener("click", function () {
      var id = b.getAttribute("data-copy-key");
      fetch("/settings/api-keys/" + encodeURIComponent(id) + "/reveal", {
        method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin"
      }).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.json();
      }).then(function (j) {
        return navigator.clipboard.writeText(j.key);
      }).then(function () {
        say("Copied");
      }).catch(function () { say("Copying failed; reload the page and try again."); });
    });
  });

  // "Delete": confirm in a dialog first.
  var pending = null;
  document.querySelectorAll("form[data-confirm-name]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (f.dataset.confirmed) return;
      e.preventDefault();
      pending = f;
      document.getElementById("delete-name").textContent = f.getAttribute("data-confirm-name");
      open("delete-dialog");
    });
  });
  var confirmBtn = document.getElementById("delete-confirm");
  if (confirmBtn) confirmBtn.addEventListener("click", function () {
    if (!pending) return;
    pending.dataset.confirmed = "1";
    pending.submit();
  });

  // "Renew": a dialog with the new date.
  document.querySelectorAll("[data-renew]").forEach(function (b) {
    b.addEventListener("click", function () {
      var form = document.getElementById("renew-form");
      form.action = "/settings/api-keys/" + encodeURIComponent(b.getAttribute("data-renew")) + "/renew";
      document.getElementById("renew-name").textContent = b.getAttribute("data-name");
      open("renew-dialog");
      document.getElementById("renew-date").focus();
    });
  });
  // "No expiration" replaces the date: it is then neither asked nor sent.
  var never = document.getElementById("renew-never");
  if (never) never.addEventListener("change", function () {
    var d = document.getElementById("renew-date");
    d.disabled = never.checked;
    d.required = !never.checked;
  });
})();
