/* MuniShare — small progressive enhancements. Every page works without this script.
 *
 * (a) <select data-navigate>: navigate to the chosen option's value on change (town switcher;
 *     its form keeps a submit button for no-JS users).
 * (b) <form data-confirm="message"> (or a submit button with data-confirm): ask confirm()
 *     before submitting.
 * (c) htmx requests carry the CSRF token from <meta name="csrf-token" content="..."> as the
 *     X-CSRF-Token header.
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
})();
