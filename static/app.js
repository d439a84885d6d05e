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

  // A live folder redraw (wrappers/files/live.py) keeps what she has loaded and where
  // she is. It is skipped while a row's menu is open, which it would close under her
  // (the next change in the folder redraws it). The pushed listing has the first page
  // only: a tab that scrolled further asks for as many rows as it has instead
  // (data-listing-refresh, files/_listing.html). Either way the row at the top of the
  // window stays where it was.
  function anchorOf(listing) {
    var rows = listing.querySelectorAll("#rows tr.file-row");
    for (var i = 0; i < rows.length; i += 1) {
      var box = rows[i].getBoundingClientRect();
      if (box.bottom > 0) return { path: rows[i].getAttribute("data-path"), top: box.top };
    }
    return null;
  }

  function keepPlace(listing, anchor) {
    if (!anchor) return;
    var rows = listing.querySelectorAll("#rows tr.file-row");
    for (var i = 0; i < rows.length; i += 1) {
      if (rows[i].getAttribute("data-path") === anchor.path) {
        window.scrollBy(0, rows[i].getBoundingClientRect().top - anchor.top);
        return;
      }
    }
  }

  var refreshing = false;
  var pendingAnchor = null;

  function refetch(listing, marker, loaded) {
    if (refreshing) return; // the one under way shows the folder as it is by then
    refreshing = true;
    var anchor = anchorOf(listing);
    htmx.ajax("GET", marker.getAttribute("data-listing-refresh") + "&rows=" + loaded, {
      target: "#listing",
      swap: "innerHTML"
    }).then(function () {
      keepPlace(listing, anchor);
    }).finally(function () { refreshing = false; });
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "listing") return;
    if (target.querySelector("details[open]")) {
      event.detail.shouldSwap = false;
      return;
    }
    var marker = target.querySelector("[data-listing-refresh]");
    var loaded = target.querySelectorAll("#rows tr.file-row").length;
    if (marker && loaded > parseInt(marker.getAttribute("data-page-size"), 10)) {
      event.detail.shouldSwap = false;
      if (loaded <= parseInt(marker.getAttribute("data-max-rows"), 10)) {
        refetch(target, marker, loaded);
      }
      return;
    }
    pendingAnchor = anchorOf(target);
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "listing" && pendingAnchor) {
      keepPlace(target, pendingAnchor);
      pendingAnchor = null;
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
