/* perflab dashboard: draws each <div class="chart" data-series="…"> with uPlot (vendored). A page
 * whose <main> has data-refresh="1" (the overview) re-fetches itself and swaps its main content:
 * every 5 s while data-live="1" (traffic in the last minute, or a run running), else every 30 s.
 * Everything works without it: sorting, filtering and the range picker are plain links. */
(function () {
  "use strict";
  var LIVE_MS = 5000, IDLE_MS = 30000;
  var COLORS = ["#1f6feb", "#b26a00", "#c62828", "#2e7d32", "#8250df"];

  function options(data, width) {
    var unit = data.unit || "";
    var series = [{}];
    data.series.forEach(function (s, i) {
      var line = {
        label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5,
        value: function (u, v) { return v == null ? "—" : v.toLocaleString() + " " + unit; },
        points: {show: data.x.length < 60}
      };
      if (data.kind === "bars") {
        line.fill = COLORS[i % COLORS.length] + "88";
        line.paths = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({size: [0.8, 40]}) : undefined;
        line.points = {show: false};
      }
      series.push(line);
    });
    var opts = {width: width, height: 240, series: series, legend: {live: true}};
    if (data.kind === "bars") {
      series[0] = {label: "statements", value: function (u, v) { return v == null ? "—" : String(v); }};
      var lastBar = data.x.length - 1;
      opts.scales = {x: {time: false, auto: false, range: [data.x[0] - 0.5, data.x[lastBar] + 0.5]}};
      var whole = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];  /* counts: whole ticks */
      opts.axes = [{label: "statements per request", incrs: whole}, {label: unit, size: 60, incrs: whole}];
    } else {
      var step = data.step || 60, last = data.x.length - 1;
      opts.scales = {x: {time: true, auto: false, range: [data.x[0] - step, data.x[last] + step]}};
      opts.axes = [{}, {label: unit, size: 60}];
    }
    return opts;
  }

  function drawCharts(root) {
    var boxes = root.querySelectorAll(".chart[data-series]");
    Array.prototype.forEach.call(boxes, function (box) {
      try {
        var data = JSON.parse(box.getAttribute("data-series"));
        box.innerHTML = "";
        if (!data.x.length) {
          box.innerHTML = '<p class="nodata">No requests in this period.</p>';
          box.setAttribute("data-drawn", "empty");
          return;
        }
        if (typeof uPlot === "undefined") throw new Error("uPlot did not load");
        var width = Math.max(320, box.clientWidth || 600);
        new uPlot(options(data, width), [data.x].concat(data.series.map(function (s) { return s.values; })), box);
        box.setAttribute("data-drawn", "1");
      } catch (e) {
        box.textContent = "chart: " + e;
        box.setAttribute("data-drawn", "error");
      }
    });
  }

  function interval(main) {
    return main.getAttribute("data-live") === "1" ? LIVE_MS : IDLE_MS;
  }

  function typing(main) {
    /* someone is typing in the filter or choosing a run: their input is not swapped away */
    var active = document.activeElement;
    return active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh() {
    var main = document.getElementById("main");
    if (typing(main)) { window.setTimeout(refresh, LIVE_MS); return; }
    fetch(window.location.href, {credentials: "same-origin", headers: {"X-Requested-With": "perflab-dashboard"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (!fresh || typing(main)) return;
        main.innerHTML = fresh.innerHTML;
        main.setAttribute("data-live", fresh.getAttribute("data-live") || "0");
        main.setAttribute("data-refreshed", String(Date.now()));
        drawCharts(main);
      })
      .catch(function () { /* the next tick tries again */ })
      .then(function () { window.setTimeout(refresh, interval(main)); });
  }

  drawCharts(document);
  var main = document.getElementById("main");
  if (main && main.getAttribute("data-refresh") === "1") window.setTimeout(refresh, interval(main));
})();
