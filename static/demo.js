// The demo's "video": a canvas animation streamed into the <video>, so the page needs no
// media file, and the counts read back from the stats JSON after each play.
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video || !HTMLCanvasElement.prototype.captureStream) return;
  var canvas = document.createElement("canvas");
  canvas.width = 480;
  canvas.height = 270;
  var pen = canvas.getContext("2d");
  var started = performance.now();
  (function draw(now) {
    var t = (now - started) / 1000;
    pen.fillStyle = "#1d2430";
    pen.fillRect(0, 0, canvas.width, canvas.height);
    pen.fillStyle = "#2f6fde";
    pen.fillRect((t * 120) % canvas.width, 110, 60, 50);
    pen.fillStyle = "#fff";
    pen.font = "20px system-ui, sans-serif";
    pen.fillText("Viewtally demo · " + t.toFixed(1) + " s", 20, 40);
    requestAnimationFrame(draw);
  })(started);
  video.srcObject = canvas.captureStream(30);

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
