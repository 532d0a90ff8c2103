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

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (_error) {
      return "";
    }
  }

  // A file input with data-upload sends its file to the API as it is chosen, showing the
  // bytes sent; the media item it becomes is selected in the form's media field.
  function upload(input) {
    const file = input.files && input.files[0];
    if (!file) {
      return;
    }
    const bar = document.getElementById(input.dataset.progress);
    const said = document.getElementById(input.dataset.status);
    const field = document.getElementById(input.dataset.mediaField);
    const request = new XMLHttpRequest();
    request.open("POST", input.dataset.upload);
    request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    request.setRequestHeader("X-Filename", file.name.replace(/[^\x20-\x7e]/g, "_"));
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    said.textContent = "Uploading " + file.name + "…";
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        bar.value = Math.round((100 * event.loaded) / event.total);
      }
    });
    request.addEventListener("load", function () {
      let answer = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch (_error) {
        answer = { detail: request.statusText };
      }
      if (request.status !== 201) {
        said.textContent = "Not uploaded: " + (answer.detail || request.statusText);
        said.classList.add("error");
        return;
      }
      bar.value = 100;
      said.classList.remove("error");
      said.textContent = "Uploaded " + answer.filename + " (" + answer.id + ")";
      const option = document.createElement("option");
      option.value = answer.id;
      option.textContent = answer.filename + " · " + (answer.kind || "media");
      field.appendChild(option);
      field.value = answer.id;
      field.dispatchEvent(new Event("change", { bubbles: true }));
    });
    request.addEventListener("error", function () {
      said.textContent = "Not uploaded: the connection failed; choose the file again.";
      said.classList.add("error");
    });
    request.send(file);
  }

  // The calendar: a post dropped on another day is rescheduled there (the server keeps its
  // time of day); its page changes the time with the keyboard.
  function calendar(table) {
    if (table.dataset.dragWatching) {
      return;
    }
    table.dataset.dragWatching = "1";
    const form = document.getElementById("reschedule");
    table.addEventListener("dragstart", function (event) {
      const item = event.target.closest("[data-post-id]");
      if (item) {
        event.dataTransfer.setData("text/plain", item.dataset.postId);
        event.dataTransfer.effectAllowed = "move";
      }
    });
    table.addEventListener("dragover", function (event) {
      const cell = event.target.closest("td[data-day]");
      if (cell) {
        event.preventDefault();
        cell.classList.add("drop");
      }
    });
    table.addEventListener("dragleave", function (event) {
      const cell = event.target.closest("td[data-day]");
      if (cell) {
        cell.classList.remove("drop");
      }
    });
    table.addEventListener("drop", function (event) {
      const cell = event.target.closest("td[data-day]");
      const postId = event.dataTransfer.getData("text/plain");
      if (!cell || !postId) {
        return;
      }
      event.preventDefault();
      form.elements.post_id.value = postId;
      form.elements.to_day.value = cell.dataset.day;
      form.requestSubmit();
    });
  }

  function start() {
    // A page that only leads elsewhere (a platform's consent page) goes there at once.
    const onward = document.querySelector("a[data-follow]");
    if (onward) {
      window.location.assign(onward.href);
      return;
    }
    document.querySelectorAll("input[type=range][data-output]").forEach(function (slider) {
      slider.addEventListener("input", function () {
        document.getElementById(slider.dataset.output).textContent = slider.value;
      });
    });
    document.querySelectorAll("[data-live]").forEach(watch);
    document.querySelectorAll("table.calendar").forEach(calendar);
    if (!document.cookie.includes("cp_tz=")) {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone) {
        document.cookie = "cp_tz=" + zone + "; path=/app; SameSite=Strict";
      }
    }
    document.querySelectorAll("input[data-upload]").forEach(function (input) {
      if (!input.dataset.uploadWatching) {
        input.dataset.uploadWatching = "1";
        input.addEventListener("change", function () {
          upload(input);
        });
      }
    });
    document.querySelectorAll("input[data-browser-timezone]").forEach(function (input) {
      if (!input.value) {
        input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:load", start);
})();
