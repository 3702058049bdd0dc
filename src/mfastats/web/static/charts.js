// Draw every chart of the page from its JSON block (no inline script: the CSP allows only 'self').
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (!window.Plotly) { return; }
  var config = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"]};
  document.querySelectorAll('script[type="application/json"][data-chart]').forEach(function (block) {
    var target = document.getElementById(block.dataset.chart);
    if (!target) { return; }
    var figure = JSON.parse(block.textContent);
    Plotly.newPlot(target, figure.data, figure.layout, config);
  });
});
