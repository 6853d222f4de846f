/* perflab report: draw every chart with uPlot, make tables sortable, surface any error.
 * Each chart container gets data-drawn="1" once its canvas exists; the body counts them. */
(function () {
  "use strict";
  var errors = window.__reportErrors || (window.__reportErrors = []);

  function showErrors() {
    var box = document.getElementById("report-errors");
    if (box && errors.length) {
      box.textContent = errors.join("\n");
      box.hidden = false;
    }
  }

  function percentLabel(x) {
    /* The HDR axis is 1 / (1 - p): 10 → 90 %, 1000 → 99.9 %. */
    var p = 100 * (1 - 1 / x);
    var text = p.toFixed(4).replace(/\.?0+$/, "");
    return text + "%";
  }

  function options(chart, width) {
    var series = [{}];
    chart.lines.forEach(function (line) {
      series.push({
        label: line.label, stroke: line.color, width: 1.5, spanGaps: false,
        value: function (u, v) { return v == null ? "—" : v.toLocaleString() + (chart.unit ? " " + chart.unit : ""); }
      });
    });
    var opts = {width: width, height: 260, series: series, legend: {live: true}, cursor: {drag: {x: true, y: false}}};
    if (chart.kind === "percentile") {
      series[0] = {label: "percentile", value: function (u, v) { return v == null ? "—" : percentLabel(v); }};
      opts.scales = {x: {time: false, distr: 3, log: 10}, y: {auto: true}};
      opts.axes = [
        {values: function (u, splits) { return splits.map(percentLabel); },
         splits: function (u) {
           var out = [], max = u.scales.x.max;
           for (var s = 1; s <= max * 1.0001; s *= 10) out.push(s);
           return out;
         }},
        {label: chart.unit, size: 60}
      ];
    } else {
      opts.scales = {x: {time: true}};
      opts.axes = [{}, {label: chart.unit, size: 60}];
    }
    return opts;
  }

  function draw(chart) {
    var box = document.getElementById(chart.id);
    if (!box) throw new Error("no container for chart " + chart.id);
    var width = Math.max(320, box.clientWidth || box.parentNode.clientWidth || 900);
    var data = [chart.x].concat(chart.lines.map(function (l) { return l.values; }));
    new uPlot(options(chart, width), data, box);
    var canvas = box.querySelector("canvas");
    if (!canvas || !canvas.width) throw new Error("chart " + chart.id + " has no canvas");
    box.setAttribute("data-drawn", "1");
  }

  function drawAll() {
    var charts = [];
    try {
      charts = JSON.parse(document.getElementById("report-charts").textContent);
    } catch (e) {
      errors.push("chart data: " + e);
    }
    var drawn = 0;
    charts.forEach(function (chart) {
      try { draw(chart); drawn += 1; } catch (e) { errors.push("chart " + chart.id + ": " + e); }
    });
    document.body.setAttribute("data-charts-drawn", String(drawn));
  }

  function sortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, column) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var text = th.getAttribute("data-type") === "text";
        var descending = th.getAttribute("data-sorted") !== "desc";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-sorted"); });
        th.setAttribute("data-sorted", descending ? "desc" : "asc");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column].getAttribute("data-value"), y = b.cells[column].getAttribute("data-value");
          var order;
          if (text) order = String(x).localeCompare(String(y));
          else order = (x === "" ? -Infinity : Number(x)) - (y === "" ? -Infinity : Number(y));
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  try {
    drawAll();
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
  } catch (e) {
    errors.push("report: " + e);
  }
  showErrors();
  window.addEventListener("error", showErrors);
})();
