(function () {
  "use strict";
  var root = document.documentElement;

  // Theme: the system's, light or dark.
  var themes = ["auto", "light", "dark"];
  var themeButton = document.getElementById("theme");
  if (themeButton) {
    themeButton.addEventListener("click", function () {
      var now = root.getAttribute("data-theme") || "auto";
      var next = themes[(themes.indexOf(now) + 1) % themes.length];
      if (next === "auto") {
        root.removeAttribute("data-theme");
      } else {
        root.setAttribute("data-theme", next);
      }
      themeButton.textContent = "Theme: " + next;
    });
  }

  var table = document.getElementById("findings-table");
  if (!table) {
    return;
  }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);

  // Filters: service, rule, severity and free text.
  var service = document.getElementById("f-service");
  var rule = document.getElementById("f-rule");
  var severity = document.getElementById("f-severity");
  var text = document.getElementById("f-text");
  var shown = document.getElementById("f-count");
  function filter() {
    var q = text.value.trim().toLowerCase();
    var n = 0;
    rows.forEach(function (r) {
      var ok = (!service.value || r.getAttribute("data-service") === service.value) &&
        (!rule.value || r.getAttribute("data-rule") === rule.value) &&
        (!severity.value || r.getAttribute("data-severity") === severity.value) &&
        (!q || r.textContent.toLowerCase().indexOf(q) >= 0);
      r.hidden = !ok;
      if (ok) {
        n += 1;
      }
    });
    shown.textContent = n + " of " + rows.length + " findings shown";
  }
  [service, rule, severity].forEach(function (s) {
    s.addEventListener("change", filter);
  });
  text.addEventListener("input", filter);
  filter();

  // Sorting: click a column's header; again to reverse.
  function value(cell) {
    var v = cell.getAttribute("data-v");
    if (v === null) {
      v = cell.textContent;
    }
    var n = Number(v);
    return v !== "" && !isNaN(n) ? n : v.toLowerCase();
  }
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  headers.forEach(function (th, col) {
    var button = th.querySelector("button");
    if (!button) {
      return;
    }
    button.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (h) {
        h.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var keyed = rows.map(function (r, i) {
        return { row: r, key: value(r.cells[col]), i: i };
      });
      keyed.sort(function (a, b) {
        var c = a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i;
        return up ? c : -c;
      });
      keyed.forEach(function (k) {
        body.appendChild(k.row);
      });
    });
  });

  // A finding linked from a chart: show its row even when filtered out.
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var row = id && document.getElementById(id);
    if (row && row.parentNode === body && row.hidden) {
      service.value = rule.value = severity.value = text.value = "";
      filter();
      row.scrollIntoView();
    }
  }
  window.addEventListener("hashchange", reveal);
  reveal();
})();
