// Charts with ECharts: each [data-chart] element reads its data from a JSON <script> element.
(function () {
  "use strict";
  function render(el) {
    if (!window.echarts) return;
    var source = document.getElementById(el.getAttribute("data-source"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    if (el.getAttribute("data-chart") === "line") {
      chart.setOption(lineOption(data));
      window.addEventListener("resize", function () { chart.resize(); });
      return;
    }
    chart.setOption({
      animation: !window.matchMedia("(prefers-reduced-motion: reduce)").matches,
      grid: { left: 40, right: 16, top: 16, bottom: 28 },
      tooltip: { trigger: "axis" },
      xAxis: {
        type: "category", data: data.days.map(function (d) { return d.slice(5); }),
        axisTick: { show: false }, axisLine: { lineStyle: { color: "#cdd3df" } }, axisLabel: { color: "#5d667a" }
      },
      yAxis: {
        type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef0f5" } },
        axisLabel: { color: "#5d667a" }
      },
      series: [{
        name: data.series, type: "bar", data: data.counts, barMaxWidth: 28,
        itemStyle: { color: "#4f46e5", borderRadius: [4, 4, 0, 0] }
      }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  // Line charts over a report series: {"x": [...], "series": [{"name", "data"}], "unit": "..."}.
  var PALETTE = ["#4f46e5", "#0f9d76", "#d97706", "#dc2626", "#0891b2", "#7c3aed"];
  function lineOption(data) {
    var isTime = data.x.length && data.x[0].length > 10;
    return {
      animation: !window.matchMedia("(prefers-reduced-motion: reduce)").matches,
      color: PALETTE,
      grid: { left: 48, right: 16, top: data.series.length > 1 ? 36 : 16, bottom: 28 },
      tooltip: { trigger: "axis" },
      legend: { show: data.series.length > 1, top: 0 },
      xAxis: {
        type: "category", data: data.x.map(function (d) { return isTime ? d.slice(5, 16).replace("T", " ") : d.slice(5); }),
        boundaryGap: false, axisTick: { show: false }, axisLine: { lineStyle: { color: "#cdd3df" } },
        axisLabel: { color: "#5d667a" }
      },
      yAxis: {
        type: "value", name: data.unit || "", min: 0, splitLine: { lineStyle: { color: "#eef0f5" } },
        axisLabel: { color: "#5d667a" }
      },
      series: data.series.map(function (s) {
        return { name: s.name, type: "line", step: isTime ? "end" : false, showSymbol: data.x.length < 40, data: s.data };
      })
    };
  }
  document.querySelectorAll("[data-chart]").forEach(render);
})();
