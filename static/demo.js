// The demo's counts, read back from the stats JSON half a second after each play.
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video) return;

  function show() {
    fetch("/api/analytics/stats/" + encodeURIComponent(video.getAttribute("data-viewtally-id")))
      .then(function (r) { return r.json(); })
      .then(function (body) {
        document.getElementById("views-today").textContent = body.data.viewsToday.toLocaleString("en-US");
        document.getElementById("views-total").textContent = body.data.viewsTotal.toLocaleString("en-US");
      })
      .catch(function () {});  // the counts stay as they were
  }
  video.addEventListener("play", function () { setTimeout(show, 500); });
})();
