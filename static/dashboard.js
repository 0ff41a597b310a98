// Keeps the dashboard's numbers fresh and makes the copy buttons work.
// The pages are complete without it; this only refreshes and copies.
(function () {
  "use strict";
  var REFRESH_MS = 30000;
  var format = function (n) { return Number(n).toLocaleString("en-US"); };

  function fill(scope, data) {
    scope.querySelectorAll("[data-count]").forEach(function (cell) {
      var key = cell.getAttribute("data-count");
      if (key in data) cell.textContent = format(data[key]);
    });
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) { return body.data; });
  }

  function refresh() {
    document.querySelectorAll("[data-video-id]").forEach(function (scope) {
      var id = scope.getAttribute("data-video-id");
      getJSON("/api/analytics/stats/" + encodeURIComponent(id)).then(function (data) { fill(scope, data); }, function () {});
    });
    if (document.querySelector("[data-total]")) {
      getJSON("/api/analytics/totals").then(function (data) {
        var totals = { today: data.viewsToday, "this-month": data.viewsMonth, "all-time": data.viewsTotal };
        document.querySelectorAll("[data-total]").forEach(function (cell) {
          var key = cell.getAttribute("data-total");
          if (key in totals) cell.textContent = format(totals[key]);
        });
      }, function () {});
    }
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.getAttribute("data-copy")).textContent;
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  });

  window.viewtallyDashboard = { refresh: refresh };
  setInterval(refresh, REFRESH_MS);
})();
