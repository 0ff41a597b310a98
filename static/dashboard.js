// Keeps the dashboard's numbers fresh and makes the copy buttons work.
// The pages are complete without it; this only refreshes and copies.
(function () {
  "use strict";
  var REFRESH_MS = 30000;
  var format = function (n) { return Number(n).toLocaleString("en-US"); };
  var two = function (n) { return (n < 10 ? "0" : "") + n; };
  var duration = function (seconds) {  // m:ss, or h:mm:ss from an hour, as the pages write it
    var whole = Math.round(seconds), hours = Math.floor(whole / 3600), rest = whole % 3600;
    return hours ? hours + ":" + two(Math.floor(rest / 60)) + ":" + two(rest % 60) : Math.floor(rest / 60) + ":" + two(rest % 60);
  };

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) { return body.data; });
  }

  function fill(scope, data) {
    scope.querySelectorAll("[data-count]").forEach(function (cell) {
      var key = cell.getAttribute("data-count");
      if (key in data) cell.textContent = format(data[key]);
    });
  }

  function fillTotals(data) {
    document.querySelectorAll("[data-total]").forEach(function (cell) {
      cell.textContent = format(data[cell.getAttribute("data-total")]);
    });
    document.querySelectorAll("[data-duration]").forEach(function (cell) {
      cell.textContent = duration(data[cell.getAttribute("data-duration")]);
    });
    document.querySelectorAll("[data-filtered]").forEach(function (cell) {
      cell.textContent = format(data.filteredToday[cell.getAttribute("data-filtered")]);
    });
    document.querySelectorAll("[data-change-of]").forEach(function (line) {
      var now = data[line.getAttribute("data-change-of")], before = data[line.getAttribute("data-before")];
      var change = now - before;
      line.className = "change " + (change > 0 ? "up" : change < 0 ? "down" : "same");
      line.textContent = (change > 0 ? "+" : "") + format(change) + " vs " +
        line.getAttribute("data-before-name") + " (" + format(before) + ")";
    });
  }

  var stopOn401 = function () {};

  function refresh() {  // a private dashboard whose login ended stops asking (see stopOn401)
    var ignore = function (status) { stopOn401(status); };
    var table = document.querySelector("table[data-list]");
    if (table) {  // one request for the whole table, the same page the server rendered
      getJSON(table.getAttribute("data-list")).then(function (data) {
        data.items.forEach(function (item) {
          var row = table.querySelector('tr[data-video-id="' + CSS.escape(item.id) + '"]');
          if (row) fill(row, item);
        });
      }, ignore);
    }
    var video = document.querySelector("section[data-video-id]");
    if (video) {
      getJSON("/api/analytics/stats/" + encodeURIComponent(video.getAttribute("data-video-id")))
        .then(function (data) { fill(video, data); }, ignore);
    }
    if (document.querySelector("[data-total]")) getJSON("/api/analytics/totals").then(fillTotals, ignore);
  }

  function copy(button) {
    var code = document.getElementById(button.getAttribute("data-copy"));
    var done = function (label) {
      button.textContent = label;
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(code.textContent).then(function () { done("Copied"); }, function () { done("Select and copy"); });
      return;
    }
    var range = document.createRange();  // plain http: select the text and use the old command
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    done(document.execCommand && document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
  }

  // Typing a date means a custom range: without this, the period chosen before would win.
  document.querySelectorAll("form.periods").forEach(function (form) {
    form.querySelectorAll("input[type=date]").forEach(function (input) {
      input.addEventListener("change", function () { form.elements.period.value = "custom"; });
    });
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () { copy(button); });
  });

  window.viewtallyDashboard = { refresh: refresh };
  var timer = setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
  stopOn401 = function (status) { if (status === 401) clearInterval(timer); };
})();
