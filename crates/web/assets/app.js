/* MuniShare — small progressive enhancements. Every page works without this script.
 *
 * (a) <select data-navigate>: navigate to the chosen option's value on change (town switcher;
 *     its form keeps a submit button for no-JS users).
 * (b) <form data-confirm="message"> (or a submit button with data-confirm): ask confirm()
 *     before submitting.
 * (c) htmx requests carry the CSRF token from <meta name="csrf-token" content="..."> as the
 *     X-CSRF-Token header.
 *
 * (d) <form data-records-upload="/api/v1/towns/{town}/records/documents">: files dropped on the
 *     form or chosen in it are sent one by one to that API route (the body streams; the form's
 *     other fields go in the query string), and each file's own result is listed in
 *     #records-upload-results — one refused file does not stop the others. Without this script
 *     the form posts every file to the page route, which lists the same results.
 *
 * Loaded with <script src=... defer>; uses event delegation, so content swapped in by htmx
 * is covered too. No inline scripts, compatible with a strict Content-Security-Policy.
 */
(function () {
  "use strict";

  // (a) Navigate on change.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-navigate")) {
      return;
    }
    var option = select.options[select.selectedIndex];
    var target = option ? option.value : "";
    if (!target) {
      return;
    }
    // Only same-origin navigation: resolve relative to the page and compare origins.
    var url;
    try {
      url = new URL(target, window.location.href);
    } catch (e) {
      return;
    }
    if (url.origin !== window.location.origin) {
      return;
    }
    window.location.assign(url.href);
  });

  // (b) Confirm before submit. The submitter's own data-confirm wins over the form's.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) {
        return;
      }
      var submitter = event.submitter;
      var message =
        (submitter && submitter.getAttribute && submitter.getAttribute("data-confirm")) ||
        form.getAttribute("data-confirm");
      if (message && !window.confirm(message)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true // capture, so it runs before htmx's own submit handling
  );

  // (c) CSRF header on every htmx request.
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token && event.detail && event.detail.headers) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // (d) Records: drop several files, each filed through the API with its own result.
  function recordsResult(list, name, ok, message, href) {
    var item = document.createElement("li");
    item.className = ok ? "ok" : "error";
    var strong = document.createElement("strong");
    strong.textContent = name;
    item.appendChild(strong);
    item.appendChild(document.createTextNode(": " + message + " "));
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = "Open";
      item.appendChild(link);
    }
    list.appendChild(item);
    return item;
  }

  function recordsUpload(form, files) {
    var api = form.getAttribute("data-records-upload");
    var list = document.getElementById("records-upload-results");
    if (!api || !list) {
      return;
    }
    var params = new URLSearchParams();
    ["type", "department", "correspondent", "document_date", "tags"].forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field && field.value) {
        params.set(name, field.value);
      }
    });
    var pages = window.location.pathname.replace(/\/$/, "");
    // One at a time, in order: each file's result appears as it lands.
    var queue = Array.prototype.slice.call(files);
    function next() {
      var file = queue.shift();
      if (!file) {
        return;
      }
      var q = new URLSearchParams(params);
      q.set("filename", file.name);
      var item = recordsResult(list, file.name, true, "sending…", null);
      fetch(api + "?" + q.toString(), {
        method: "POST",
        headers: { "X-CSRF-Token": csrfToken() || "", "Content-Type": "application/octet-stream" },
        body: file,
        credentials: "same-origin"
      })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (r) {
          list.removeChild(item);
          if (r.ok) {
            recordsResult(list, file.name, true,
              r.body.deduplicated ? "filed; the town already had this exact file, so it was not stored again." : "filed.",
              pages + "/documents/" + encodeURIComponent(r.body.document.id));
          } else {
            recordsResult(list, file.name, false, r.body.detail || "refused.", null);
          }
        })
        .catch(function () {
          list.removeChild(item);
          recordsResult(list, file.name, false, "the upload did not reach the server.", null);
        })
        .then(next);
    }
    next();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-records-upload")) {
      return;
    }
    var input = form.querySelector('input[type="file"]');
    if (!input || !input.files || input.files.length === 0 || !window.fetch) {
      return;
    }
    event.preventDefault();
    recordsUpload(form, input.files);
    form.reset();
  });

  ["dragenter", "dragover"].forEach(function (kind) {
    document.addEventListener(kind, function (event) {
      var form = event.target instanceof Element ? event.target.closest("form[data-records-upload]") : null;
      if (form) {
        event.preventDefault();
        form.classList.add("dragging");
      }
    });
  });
  document.addEventListener("dragleave", function (event) {
    var form = event.target instanceof Element ? event.target.closest("form[data-records-upload]") : null;
    if (form) {
      form.classList.remove("dragging");
    }
  });
  document.addEventListener("drop", function (event) {
    var form = event.target instanceof Element ? event.target.closest("form[data-records-upload]") : null;
    if (!form || !event.dataTransfer || event.dataTransfer.files.length === 0) {
      return;
    }
    event.preventDefault();
    form.classList.remove("dragging");
    recordsUpload(form, event.dataTransfer.files);
  });
})();
