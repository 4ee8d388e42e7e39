// Burn-down of open remediation tasks (custos/remediation/templates/remediation/progress.html).
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("burndown");
  var data = JSON.parse(document.getElementById("burndown-data").textContent);
  if (!el || !window.echarts) return;
  echarts.init(el).setOption({
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: data.map(function (d) { return d.day; }) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ name: el.dataset.label, type: "line", data: data.map(function (d) { return d.open; }) }]
  });
});
