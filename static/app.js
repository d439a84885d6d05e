// Onestop's page behaviour. Loaded as a file because the CSP allows no inline script.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request that changes state carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  function setLive(state, text) {
    var badge = document.getElementById("live-status");
    if (!badge) return;
    badge.setAttribute("data-state", state);
    badge.textContent = text;
  }

  document.addEventListener("htmx:wsOpen", function () { setLive("live", "Live"); });
  // When the live connection drops, find out whether the session itself ended
  // (signed out elsewhere, revoked, expired): then reload, which leads to sign-in.
  document.addEventListener("htmx:wsClose", function () {
    setLive("offline", "Reconnecting…");
    fetch("/", { method: "HEAD", redirect: "manual", cache: "no-store" }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 401) {
        window.location.reload();
      }
    }).catch(function () { /* offline: the extension keeps retrying */ });
  });
  document.addEventListener("htmx:wsError", function () { setLive("offline", "Reconnecting…"); });

  // Output being followed stays scrolled to its end, unless the reader scrolled up.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "job-output") return;
    var atEnd = {};
    target.querySelectorAll("pre.output").forEach(function (pre) {
      atEnd[pre.dataset.stream] = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    });
    target.dataset.follow = JSON.stringify(atEnd);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "job-output") return;
    var atEnd = JSON.parse(target.dataset.follow || "{}");
    target.querySelectorAll("pre.output").forEach(function (pre) {
      if (atEnd[pre.dataset.stream] !== false) pre.scrollTop = pre.scrollHeight;
    });
  });

  document.querySelectorAll("#job-output pre.output").forEach(function (pre) {
    pre.scrollTop = pre.scrollHeight;
  });

  // A live folder redraw (wrappers/files/live.py) is skipped while a row's menu is
  // open, which it would close under her; the next change in the folder redraws it.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "listing" && target.querySelector("details[open]")) {
      event.detail.shouldSwap = false;
    }
  });

  // Forms that stop or pause something ask first: <form data-confirm="Cancel job 12?">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  // A page restored from the back/forward cache after sign-out must not show private data.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.querySelector('meta[name="csrf-token"]')) {
      window.location.reload();
    }
  });
})();
