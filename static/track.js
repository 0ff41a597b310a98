/* Viewtally player snippet: what it sends, and when, is in the README. */
(function (w, d) {
"use strict";
if ((w.viewtally || 0).track) return;
var me = d.currentScript, api = new URL(me ? me.src : "/", location.href).origin + "/api/analytics/",
  videos = "video[data-viewtally-id]", all = [];

function on(t, type, f) { t.addEventListener(type, f); }

function send(kind, id, f) {
  var url = api + kind + "/" + encodeURIComponent(id), body = new URLSearchParams(), k;
  for (k in f) if (f[k]) body.append(k, f[k]);
  try { if (navigator.sendBeacon(url, body)) return; } catch (e) { /* fetch */ }
  fetch(url, { method: "POST", body: body, keepalive: true, credentials: "omit" }).catch(function () {});
}

function track(id, session, view) { send("view", id, { session: session, view: view }); }

// One view on play, or once min-seconds are played; then what was played (seeks skipped),
// reported when the video ends and when the page is hidden or left.
function watch(v) {
  if (v.viewtally) return;
  v.viewtally = 1;
  var at = function (name) { return v.getAttribute("data-viewtally-" + name); },
    id = at("id"), need = parseFloat(at("min-seconds")), view = "", sent, played = 0, far = 0, last = 0;
  function count() {
    if (view) return;
    for (var a = crypto.getRandomValues(new Uint8Array(16)), i = 0; i < 16; i++) view += (a[i] | 256).toString(16).slice(1);
    track(id, at("session"), view);
  }
  function report() { // an unknown, endless or day-long duration is sent as 0: time played, no curve
    var n = v.duration, d = n > 0 && n <= 86400 ? n : 0, f = view && { view: view, seconds: played.toFixed(1),
      position: Math.min(far, d).toFixed(1), duration: d.toFixed(1) };
    if (f && sent != f.seconds + f.position) send("watch", id, f), sent = f.seconds + f.position;
  }
  all.push(report);
  if (!(need > 0)) on(v, "play", count);
  on(v, "timeupdate", function () {
    var now = v.currentTime;
    if (now > last && now - last < 2) played += now - last, far = Math.max(far, now);
    last = now;
    if (need > 0 && played >= need) count();
  });
  on(v, "seeking", function () { last = -9; });
  on(v, "ended", function () { if (v.duration - far < 2) far = v.duration; report(); }); // played to it, not sought
}

function call(f) { f(); }

function scan(root) {
  if (root.matches && root.matches(videos)) watch(root);
  if (root.querySelectorAll) root.querySelectorAll(videos).forEach(watch);
}

w.viewtally = { track: track };
on(d, "visibilitychange", function () { if (d.hidden) all.forEach(call); });
on(w, "pagehide", function () { all.forEach(call); });
scan(d);
new MutationObserver(function (changes) {
  changes.forEach(function (c) { c.addedNodes.forEach(scan); });
}).observe(d.documentElement, { childList: true, subtree: true });
})(window, document);
