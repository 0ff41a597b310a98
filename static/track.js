/* Viewtally: one view per <video data-viewtally-id> per page load, on first play or after
   data-viewtally-min-seconds watched; data-viewtally-session names the viewer (optional). */
(function (w, d) {
  "use strict";
  if (w.viewtally && w.viewtally.track) return;
  var me = d.currentScript, base = new URL(me ? me.src : "/", location.href).origin;

  function track(id, session) {
    var url = base + "/api/analytics/view/" + encodeURIComponent(id);
    var body = session ? new URLSearchParams({ session: session }) : null;
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
    } catch (e) { /* fetch */ }
    if (w.fetch) fetch(url, { method: "POST", body: body, keepalive: true, credentials: "omit" }).catch(function () {});
  }

  function watch(video) {
    if (video.viewtally) return;
    video.viewtally = true;
    var id = video.getAttribute("data-viewtally-id");
    var need = Math.max(0, parseFloat(video.getAttribute("data-viewtally-min-seconds")) || 0);
    var watched = 0, last = null, done = false;
    function count() {
      if (!done) { done = true; track(id, video.getAttribute("data-viewtally-session")); }
    }
    if (!need) return video.addEventListener("play", count);
    video.addEventListener("timeupdate", function () {
      var now = video.currentTime;
      if (last !== null && now > last && now - last < 2) watched += now - last;
      last = now;
      if (watched >= need) count();
    });
    video.addEventListener("seeking", function () { last = null; });
  }

  function scan(root) {
    if (root.matches && root.matches("video[data-viewtally-id]")) watch(root);
    if (root.querySelectorAll) root.querySelectorAll("video[data-viewtally-id]").forEach(watch);
  }

  w.viewtally = { track: track };
  scan(d);
  if (w.MutationObserver) {
    new MutationObserver(function (changes) {
      changes.forEach(function (c) { c.addedNodes.forEach(scan); });
    }).observe(d.documentElement, { childList: true, subtree: true });
  }
})(window, document);
