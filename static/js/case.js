// An approval case's page: draw the steps diagram from the source in the <pre> (without the
// script, or if drawing fails, the source stays as it is: the list above says the same in
// words), and confirm a rejection before the decision is sent.
(function () {
  "use strict";
  var chart = document.getElementById("case-flowchart");
  if (chart && window.mermaid) {
    window.mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      suppressErrorRendering: true,
      theme: "neutral",
      fontFamily: "Source Sans Pro Web, Helvetica Neue, Helvetica, Roboto, Arial, sans-serif"
    });
    window.mermaid.run({ nodes: [chart], suppressErrors: true }).then(function () {
      if (chart.querySelector("svg")) { chart.classList.add("gov-drawn"); }
    });
  }

  var form = document.getElementById("decision-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      var choice = form.querySelector("input[name=outcome]:checked");
      if (choice && choice.value === "reject" && !window.confirm(form.dataset.confirmReject)) {
        event.preventDefault();
        return;
      }
      document.getElementById("submit-decision").disabled = true;
    });
  }
})();
