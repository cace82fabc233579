// Live pages: what the htmx websocket extension does not do on its own. The pages work without it
// (they just do not resume where they left off, follow the output or tick the clock).
(function () {
  "use strict";

  // -- resume where the page is -------------------------------------------------------------------
  // The extension reconnects to the URL it first read; the run page's socket must instead ask for
  // the events after the last one the page shows (#run-cursor, updated by every frame), or a
  // reconnect would repeat them.
  function withCursor(url) {
    const cursor = document.getElementById("run-cursor");
    if (!cursor || url.indexOf("/ws/runs/") < 0) return url;
    const parsed = new URL(url, location.href);
    parsed.searchParams.set("after", cursor.dataset.seq || "0");
    parsed.searchParams.set("status", cursor.dataset.status || "");
    return parsed.toString();
  }

  function patchSocketFactory() {
    if (!window.htmx || htmx.createWebSocket.slipwayCursor) return;
    const create = htmx.createWebSocket;
    htmx.createWebSocket = function (url) { return create(withCursor(url)); };
    htmx.createWebSocket.slipwayCursor = true;
  }
  patchSocketFactory();

  // -- follow the bottom unless the reader scrolled up ---------------------------------------------
  const SLACK = 24; // pixels from the bottom that still count as "at the bottom"
  let following = [];
  let pageAtBottom = false;

  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight <= SLACK; }

  document.addEventListener("htmx:wsBeforeMessage", function () {
    following = Array.from(document.querySelectorAll("[data-follow]")).filter(atBottom);
    pageAtBottom = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - SLACK;
  });

  document.addEventListener("htmx:wsAfterMessage", function () {
    following.forEach(function (el) { if (el.isConnected) el.scrollTop = el.scrollHeight; });
    // New output boxes start at the bottom too.
    document.querySelectorAll("[data-follow]:not([data-followed])").forEach(function (el) {
      el.dataset.followed = "";
      el.scrollTop = el.scrollHeight;
    });
    if (pageAtBottom) window.scrollTo(0, document.documentElement.scrollHeight);
  });

  // -- the elapsed time of a run that is still going -----------------------------------------------
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + "s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + "m " + String(seconds % 60).padStart(2, "0") + "s";
    return Math.floor(minutes / 60) + "h " + String(minutes % 60).padStart(2, "0") + "m";
  }

  setInterval(function () {
    document.querySelectorAll(".elapsed[data-started]:not([data-finished])").forEach(function (el) {
      el.textContent = duration((Date.now() - Date.parse(el.dataset.started)) / 1000);
    });
  }, 1000);
})();
