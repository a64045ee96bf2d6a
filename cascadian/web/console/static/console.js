// The console's only script: ask before a form with data-confirm changes a
// strategy. Without JavaScript the forms still work, without the question.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  var button = form.querySelector && form.querySelector("button[type=submit]");
  if (button) {
    // One click, one change: a second click while the first is on its way does nothing.
    window.setTimeout(function () { button.disabled = true; }, 0);
  }
});

// The strategies list's filter and sort apply as soon as they are chosen.
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.tagName === "SELECT" && field.form && field.form.classList.contains("filters")) {
    field.form.submit();
  }
});

// Live figures: an element with data-live polls that small JSON endpoint every
// data-live-every seconds and updates the figures in place (no reload). A failed
// poll leaves the page as it is and tries again at the next beat.
(function () {
  var box = document.querySelector("[data-live]");
  if (!box || !window.fetch) {
    return;
  }
  var every = 1000 * (parseFloat(box.getAttribute("data-live-every")) || 5);
  function put(selector, text, quiet) {
    var el = document.querySelector(selector);
    if (el && text !== undefined && text !== null && el.textContent !== String(text)) {
      el.textContent = String(text);
      if (!quiet) {
        el.classList.add("live-changed");
      }
    }
  }
  function show(data) {
    put("#live-now", data.now, true);
    put("#health strong", data.healthy ? "healthy" : "degraded");
    put("#live-last-tick", data.last_tick, true);
    put("#backlog strong", data.due);
    put("#live-backlog-note", data.due_note, true);
    put("#in-flight strong", data.in_flight);
    put("#failing strong", data.failing);
    var s = data.strategy;
    if (!s) {
      return;
    }
    if (s.status !== box.getAttribute("data-status")) {
      box.setAttribute("data-status", s.status);
      put("#status-value", s.status);
    }
    put("#in-flight-value", s.in_flight);
    put("#runs-value", s.runs_line);
    put("#last-run-value", s.last_run, true);
    put("#error-streak-value", s.error_streak);
    var run = s.newest_run;
    var cell = document.querySelector("#newest-run");
    // A new run, or the newest one's status changed (running, then how it ended).
    if (run && cell && run.id + " " + run.status !== box.getAttribute("data-newest-run")) {
      box.setAttribute("data-newest-run", run.id + " " + run.status);
      var link = document.createElement("a");
      link.href = "/console/runs/" + run.id;
      link.textContent = run.status + ", started " + run.started;
      cell.replaceChildren(link);
      cell.classList.add("live-changed");
    }
  }
  function poll() {
    window.fetch(box.getAttribute("data-live"), { credentials: "same-origin", cache: "no-store" })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (data) { if (data) { show(data); } })
      .catch(function () {})
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
})();

// Live lists: an element with data-live-rows (the runs list's and the audit log's
// first page, the overview's runs in flight) polls that endpoint every
// data-live-every seconds with the version of the rows it shows; the server answers
// 204 while nothing changed, else the rows rendered as the page renders them, which
// replace the old ones in place (no reload). A failed poll tries again next beat.
(function () {
  if (!window.fetch) {
    return;
  }
  document.querySelectorAll("[data-live-rows]").forEach(function (box) {
    var every = 1000 * (parseFloat(box.getAttribute("data-live-every")) || 5);
    function poll() {
      var url = box.getAttribute("data-live-rows");
      var version = encodeURIComponent(box.getAttribute("data-live-version") || "");
      url += (url.indexOf("?") < 0 ? "?" : "&") + "v=" + version;
      window.fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (reply) { return reply.status === 200 ? reply.json() : null; })
        .then(function (data) {
          if (data && typeof data.html === "string" && typeof data.v === "string") {
            box.innerHTML = data.html;
            box.setAttribute("data-live-version", data.v);
            box.classList.remove("live-changed");
            void box.offsetWidth;  // restart the highlight
            box.classList.add("live-changed");
          }
        })
        .catch(function () {})
        .then(function () { window.setTimeout(poll, every); });
    }
    window.setTimeout(poll, every);
  });
})();
