// Bar charts of the dataset pages (label statistics, usage) with ECharts. Each [data-bar-chart]
// element reads {"labels": [...], "values": [...], "series": "..."} from the JSON <script> named by
// its data-source; the same numbers are on the page as text for readers without the chart.
(function () {
  "use strict";
  if (!window.echarts) return;
  var reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  document.querySelectorAll("[data-bar-chart]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-source"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var many = data.labels.length > 12;
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      animation: !reduced,
      grid: { left: 48, right: 16, top: 16, bottom: many ? 72 : 28 },
      tooltip: { trigger: "axis" },
      xAxis: {
        type: "category", data: data.labels, axisTick: { show: false },
        axisLine: { lineStyle: { color: "#cdd3df" } },
        axisLabel: { color: "#5d667a", interval: 0, rotate: many ? 40 : 0, width: 90, overflow: "truncate" }
      },
      yAxis: { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef0f5" } }, axisLabel: { color: "#5d667a" } },
      dataZoom: data.labels.length > 40 ? [{ type: "slider", height: 14, bottom: 4 }] : [],
      series: [{
        name: data.series, type: "bar", data: data.values, barMaxWidth: 36,
        itemStyle: { color: "#4f46e5", borderRadius: [4, 4, 0, 0] }
      }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
