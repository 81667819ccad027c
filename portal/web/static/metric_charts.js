// Metric series of a run (ECharts): each [data-metric-chart] element names a JSON <script> element
// holding {"key", "x_label", "points": [[step, value], ...]}; null values leave gaps.
(function () {
  "use strict";
  function render(el) {
    if (!window.echarts) return;
    var source = document.getElementById(el.getAttribute("data-metric-chart"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      animation: !window.matchMedia("(prefers-reduced-motion: reduce)").matches,
      color: ["#4f46e5"],
      grid: { left: 56, right: 16, top: 16, bottom: 36 },
      tooltip: { trigger: "axis" },
      xAxis: {
        type: "value", name: data.x_label, nameLocation: "middle", nameGap: 24, minInterval: 1,
        axisLine: { lineStyle: { color: "#cdd3df" } }, axisLabel: { color: "#5d667a" },
        splitLine: { show: false }
      },
      yAxis: {
        type: "value", scale: true, splitLine: { lineStyle: { color: "#eef0f5" } },
        axisLabel: { color: "#5d667a" }
      },
      series: [{
        name: data.key, type: "line", data: data.points, showSymbol: data.points.length < 40,
        connectNulls: false
      }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.querySelectorAll("[data-metric-chart]").forEach(render);
})();
