// Keyboard shortcuts of the case pages, beside review.js (which clicks the
// button a key names in data-key: c claim, 1..9 category, u undo, n next ...):
// j / k move to the next / previous cluster of the grid or member of a
// cluster, and a member's own keys (data-member-key: r reveal its picture,
// m reveal its metadata) act on the focused member, else on the first.
// A request HTMX made that the server refused (a reveal without a claim, a
// missing evidence file) says why in #case-problem instead of doing nothing.
"use strict";
(function () {
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function focusable() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-focus-item]"));
  }

  function current(items) {
    for (var i = 0; i < items.length; i++) {
      if (items[i].contains(document.activeElement)) return i;
    }
    return -1;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var items = focusable();
    if (!items.length) return;
    var here = current(items);
    if (event.key === "j" || event.key === "k") {
      var step = event.key === "j" ? 1 : -1;
      var next = here === -1 ? 0 : Math.min(Math.max(here + step, 0), items.length - 1);
      items[next].focus();
      items[next].scrollIntoView({ block: "nearest" });
      event.preventDefault();
      return;
    }
    var member = items[here === -1 ? 0 : here];
    var button = member.querySelector('[data-member-key="' + CSS.escape(event.key) + '"]');
    if (button) {
      event.preventDefault();
      button.click();
    }
  });

  document.body.addEventListener("htmx:responseError", function (event) {
    var problem = document.getElementById("case-problem");
    if (!problem) return;
    var text = event.detail.xhr.responseText;
    try {
      text = JSON.parse(text).message;
    } catch (ignored) {
      // not JSON: show the answer as it came
    }
    problem.textContent = text || "The server refused (" + event.detail.xhr.status + ").";
  });
})();
