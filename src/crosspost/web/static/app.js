// The dashboard's own script: live updates from the API's event stream. An element with
// data-live (the stream's URL, narrowed to what it shows) and data-live-events (event types)
// is sent a "live" event, which its hx-trigger turns into a redraw. A post's stream starts at
// the post's first event, so nothing between drawing the page and connecting is missed, and
// EventSource reconnects by itself, resuming with Last-Event-ID.
"use strict";

(function () {
  const streams = new Map();

  function stream(url) {
    if (!streams.has(url)) {
      streams.set(url, new EventSource(url, { withCredentials: true }));
    }
    return streams.get(url);
  }

  function watch(element) {
    if (element.dataset.liveWatching) {
      return;
    }
    element.dataset.liveWatching = "1";
    const source = stream(element.dataset.live);
    let pending = null;
    for (const type of (element.dataset.liveEvents || "").split(/\s+/)) {
      if (!type) {
        continue;
      }
      source.addEventListener(type, function () {
        if (pending) {
          return;
        }
        // Several events at once (three targets publishing) make one redraw.
        pending = setTimeout(function () {
          pending = null;
          htmx.trigger(element, "live");
        }, 150);
      });
    }
  }

  function start() {
    document.querySelectorAll("[data-live]").forEach(watch);
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:load", start);
})();
