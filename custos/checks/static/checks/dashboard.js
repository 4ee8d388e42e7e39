// Findings dashboard charts (Apache ECharts, served by custos itself). Data comes from a json_script block.
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("findings-chart-data");
    if (!node || !window.echarts) return;
    var d = JSON.parse(node.textContent);
    var keys = ["untrue", "missing", "false"];
    var colors = { untrue: "#5470c6", missing: "#fac858", false: "#ee6666" };
    function series(type, data) {
      return keys.map(function (k) {
        return { name: d.labels[k], type: type, data: data[k], itemStyle: { color: colors[k] } };
      });
    }
    var pct = { type: "value", axisLabel: { formatter: "{value}%" } };
    var ch = document.getElementById("chart-channel");
    if (ch && d.channels.length) {
      echarts.init(ch).setOption({
        tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v + "%"; } },
        legend: {}, xAxis: { type: "category", data: d.channels }, yAxis: pct,
        series: series("bar", d.channel_rates),
      });
    }
    var tr = document.getElementById("chart-trend");
    if (tr && d.trend_runs.length) {
      echarts.init(tr).setOption({
        tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v + "%"; } },
        legend: {}, xAxis: { type: "category", data: d.trend_runs }, yAxis: pct,
        series: series("line", d.trend),
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
