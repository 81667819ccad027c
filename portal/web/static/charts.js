// Charts with ECharts: each [data-chart] element reads its data from a JSON <script> element.
(function () {
  "use strict";
  function render(el) {
    if (!window.echarts) return;
    var source = document.getElementById(el.getAttribute("data-source"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, { renderer: "svg" });
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
  document.querySelectorAll("[data-chart]").forEach(render);
})();
